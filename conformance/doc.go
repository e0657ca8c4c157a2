// Package conformance holds coffer's client conformance suite: scenarios (scenarios/*.json)
// of Secrets Manager calls with the answers they must get, run against one in-process server
// through several real AWS clients (aws-sdk-go-v2, boto3, the AWS CLI, the AWS SDK for
// JavaScript v3), which must all see the same results. The package has no code of its own; the
// suite is in its tests and README.md explains the scenario format.
package conformance
