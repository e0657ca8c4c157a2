package iam

import (
	"github.com/coffer-project/coffer"
)

// XML shapes of IAM results, member for member as iam.service-2.json names them.

type tagXML struct {
	Key   string
	Value string
}

type boundaryXML struct {
	PermissionsBoundaryType string
	PermissionsBoundaryArn  string
}

type userXML struct {
	Path                string
	UserName            string
	UserId              string //nolint:revive // AWS's name
	Arn                 string
	CreateDate          string
	PermissionsBoundary *boundaryXML `xml:",omitempty"`
	Tags                []tagXML     `xml:"Tags>member,omitempty"`
}

type groupXML struct {
	Path       string
	GroupName  string
	GroupId    string //nolint:revive // AWS's name
	Arn        string
	CreateDate string
}

type roleXML struct {
	Path                     string
	RoleName                 string
	RoleId                   string //nolint:revive // AWS's name
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string       `xml:",omitempty"`
	Description              string       `xml:",omitempty"`
	MaxSessionDuration       int          `xml:",omitempty"`
	PermissionsBoundary      *boundaryXML `xml:",omitempty"`
	Tags                     []tagXML     `xml:"Tags>member,omitempty"`
}

type policyXML struct {
	PolicyName                    string
	PolicyId                      string //nolint:revive // AWS's name
	Arn                           string
	Path                          string
	DefaultVersionId              string //nolint:revive // AWS's name
	AttachmentCount               int
	PermissionsBoundaryUsageCount int
	IsAttachable                  bool
	Description                   string `xml:",omitempty"`
	CreateDate                    string
	UpdateDate                    string
	Tags                          []tagXML `xml:"Tags>member,omitempty"`
}

type policyVersionXML struct {
	Document         string `xml:",omitempty"`
	VersionId        string //nolint:revive // AWS's name
	IsDefaultVersion bool
	CreateDate       string
}

type accessKeyXML struct {
	UserName        string
	AccessKeyId     string //nolint:revive // AWS's name
	Status          string
	SecretAccessKey string `xml:",omitempty"`
	CreateDate      string
}

type attachedXML struct {
	PolicyName string
	PolicyArn  string
}

func tagsXML(tags []coffer.Tag) []tagXML {
	out := make([]tagXML, len(tags))
	for i, t := range tags {
		out[i] = tagXML{Key: t.Key, Value: t.Value}
	}
	return out
}

func boundary(arn string) *boundaryXML {
	if arn == "" {
		return nil
	}
	return &boundaryXML{PermissionsBoundaryType: "Policy", PermissionsBoundaryArn: arn}
}

func userOf(e *coffer.Entity) userXML {
	return userXML{Path: e.Path, UserName: e.Name, UserId: e.ID, Arn: e.ARN(), CreateDate: isoTime(e.CreatedDate),
		PermissionsBoundary: boundary(e.PermissionsBoundary), Tags: tagsXML(e.Tags)}
}

func groupOf(e *coffer.Entity) groupXML {
	return groupXML{Path: e.Path, GroupName: e.Name, GroupId: e.ID, Arn: e.ARN(), CreateDate: isoTime(e.CreatedDate)}
}

func roleOf(e *coffer.Entity, withDoc bool) roleXML {
	r := roleXML{Path: e.Path, RoleName: e.Name, RoleId: e.ID, Arn: e.ARN(), CreateDate: isoTime(e.CreatedDate),
		Description: e.Description, MaxSessionDuration: e.MaxSessionDuration, PermissionsBoundary: boundary(e.PermissionsBoundary), Tags: tagsXML(e.Tags)}
	if withDoc {
		r.AssumeRolePolicyDocument = encodeDocument(e.AssumeRolePolicy)
	}
	return r
}

func policyOf(p *coffer.ManagedPolicy, attachments int) policyXML {
	return policyXML{PolicyName: p.Name, PolicyId: p.ID, Arn: p.ARN(), Path: p.Path, DefaultVersionId: p.DefaultVersion,
		AttachmentCount: attachments, IsAttachable: true, Description: p.Description,
		CreateDate: isoTime(p.CreatedDate), UpdateDate: isoTime(p.UpdateDate), Tags: tagsXML(p.Tags)}
}
