module github.com/idlab/idlab

go 1.26.8

require github.com/stretchr/testify v1.12.1

require (
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
