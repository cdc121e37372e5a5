package awsiamapi

import (
	"context"
	"encoding/xml"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/awsxml"
)

// FuzzOperations runs every action on arbitrary parameters as the lab's
// admin: each answers a result that renders or one of IAM's client errors
// (never a panic, never a 500), whatever the lists, tags, documents,
// markers and numbers say.
func FuzzOperations(f *testing.F) {
	seeds := []struct {
		action uint8
		form   string
	}{
		{0, "RoleName=r&AssumeRolePolicyDocument=" + url.QueryEscape(trust) + "&Tags.member.1.Key=k&Tags.member.1.Value=v&MaxSessionDuration=7200"},
		{1, "RoleName=r&PolicyName=p&PolicyDocument=" + url.QueryEscape(readAll)},
		{2, "PolicySourceArn=arn:aws:iam::111122223333:role/r&ActionNames.member.1=s3:GetObject&ResourceArns.member.1=arn:aws:s3:::b/k" +
			"&ContextEntries.member.1.ContextKeyName=aws:username&ContextEntries.member.1.ContextKeyValues.member.1=x&MaxItems=1"},
		{3, "PolicyInputList.member.1=" + url.QueryEscape(readAll) + "&ActionNames.member.1=s3:GetObject&ResourcePolicy=%7B&CallerArn=x"},
		{4, "Url=https://x.example&ClientIDList.member.1=a&ThumbprintList.member.1=0000000000000000000000000000000000000000"},
		{5, "Marker=QQ&MaxItems=0&PathPrefix=/a/"},
		{6, "PolicyArn=arn:aws:iam::111122223333:policy/p&VersionId=v1&SetAsDefault=maybe"},
		{7, "UserName=u&AccessKeyId=AKIAAAAAAAAAAAAAAAAA&Status=Inactive"},
		{8, "TagKeys.member.1=k&TagKeys.member.999999=x&RoleName=%FF"},
	}
	for _, s := range seeds {
		f.Add(s.action, s.form)
	}
	actions := Actions()
	f.Fuzz(func(t *testing.T, pick uint8, form string) {
		l := newLab(t)
		p, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		action := actions[int(pick)%len(actions)]
		_, principal, err := l.iam.LookupAccessKey(l.admin.AccessKeyID)
		require.NoError(t, err)
		c := &call{ctx: context.Background(), h: l.h, p: p, action: action, caller: principal, reqID: "r"}
		result, err := operations[action](c)
		if err != nil {
			var e *awsxml.Error
			require.ErrorAs(t, storeErr(err), &e, "%s: %v", action, err)
			require.Less(t, e.Status, 500, "%s: %v", action, err)
			return
		}
		_, err = xml.Marshal(response{action: action, result: result, reqID: "r"})
		require.NoError(t, err, action)
	})
}
