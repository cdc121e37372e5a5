package awsimds_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/idlab/idlab/emulators/awsimds"
)

// An IMDSv2 exchange by hand: PUT for a token, then GET with it.
func ExampleNewServer() {
	srv, err := awsimds.NewServer(awsimds.Options{InstanceID: "i-0abc1234def567890", RequireV2: true})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	put, _ := http.NewRequest(http.MethodPut, srv.URL()+"/latest/api/token", nil)
	put.Header.Set(awsimds.TTLHeader, "21600")
	resp, err := srv.Client().Do(put)
	if err != nil {
		panic(err)
	}
	token, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	get, _ := http.NewRequest(http.MethodGet, srv.URL()+"/latest/meta-data/instance-id", nil)
	get.Header.Set(awsimds.TokenHeader, string(token))
	resp, err = srv.Client().Do(get)
	if err != nil {
		panic(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(id))
	// Output: 200 i-0abc1234def567890
}
