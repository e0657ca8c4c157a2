// Package sigv4 verifies AWS Signature Version 4 (SigV4) on incoming requests, the server side
// of the scheme that the AWS CLI, boto3 and the AWS SDKs use to sign every call.
//
// A client that holds an access key pair (an access key id and a secret access key) signs a
// request by building a canonical request — method, URI-encoded path, sorted and encoded query
// string, the lower-cased headers it chose to sign with their trimmed values, the list of those
// headers, and the hex SHA-256 of the body — hashing it, and putting that hash into a
// "string to sign" together with the algorithm name (AWS4-HMAC-SHA256), the request time
// (ISO 8601 basic format, 20261122T074500Z) and the credential scope
// (date/region/service/aws4_request). The signing key is derived from the secret by a chain of
// HMAC-SHA256 steps over the scope's date, region, service and the terminator aws4_request; the
// signature is the hex HMAC-SHA256 of the string to sign under that key. The signature travels
// either in the Authorization header or, for a presigned URL, in the X-Amz-* query parameters.
// The server rebuilds the same canonical request from what it received, derives the same key
// from its copy of the secret, and compares the signatures in constant time. A signature binds
// the request to its time, so a request is accepted only within 5 minutes of the server's clock
// (a presigned URL: until X-Amz-Date + X-Amz-Expires).
//
// The package is pure: it reads nothing but the request and the body bytes it is given, takes
// its clock as a function, and reaches secrets only through the injected SecretSource. It keeps
// derived signing keys (never secrets) in a small bounded in-memory cache so that the hot path
// needs no secret lookup; Verifier.Forget drops the keys of an access key that was deactivated.
// Temporary credentials are the exception: when the SecretSource is a SessionSource, a request
// carrying a security token gets its secret from that token, checked on every request and
// never cached, so an expired session is refused at once.
// The Verifier does not decide which services and regions are served: it returns the scope in
// the Identity, and the caller checks it, using ScopeError for AWS's exact wording.
//
// # Errors
//
// Errors are *coffer.Error values whose Code and Message are those AWS's JSON services (Secrets
// Manager, KMS, DynamoDB: the "coral" front end) answer. No message ever carries a secret, a
// signing key or a signature value: where AWS echoes the Authorization header, the Signature
// value is replaced by "<redacted>" (AWS echoes it verbatim; coffer does not).
//
//	Code                                 Message                                                       Source
//	MissingAuthenticationTokenException  Missing Authentication Token                                  github.com/aws/aws-sdk-cpp/issues/2407 (Secrets Manager)
//	IncompleteSignatureException         Authorization header requires 'Credential' parameter.        github.com/aws/chalice/issues/828,
//	                                     Authorization header requires 'Signature' parameter.         github.com/architect/dynalite/issues/28 (DynamoDB),
//	                                     Authorization header requires 'SignedHeaders' parameter.     dacut/scratchstack-aws-signature src/canonical.rs
//	                                     Authorization header requires existence of either a
//	                                     'X-Amz-Date' or a 'Date' header. Authorization=<header>       (each missing part, in this order, in one message)
//	IncompleteSignatureException         '<pair>' not a valid key=value pair (missing equal-sign) in   github.com/awslabs/fhir-works-on-aws-deployment/issues/379,
//	                                     Authorization header: '<header>'.                             github.com/iann0036/cloud9-sync/issues/10
//	IncompleteSignatureException         Unsupported AWS 'algorithm': '<algorithm>'.                   scratchstack-aws-signature src/canonical.rs
//	IncompleteSignatureException         Date must be in ISO-8601 'basic format'. Got '<date>'. See    scratchstack-aws-signature src/error.rs, src/canonical.rs
//	                                     http://en.wikipedia.org/wiki/ISO_8601
//	IncompleteSignatureException         Credential must have exactly 5 slash-delimited elements,      github.com/prometheus-community/yet-another-cloudwatch-exporter/issues/169,
//	                                     e.g. keyid/date/region/service/term, got '<credential>'       github.com/kubernetes-sigs/aws-iam-authenticator/issues/374
//	IncompleteSignatureException         AWS query-string parameters must include 'X-Amz-Credential'.  scratchstack-aws-signature src/canonical.rs
//	                                     … 'X-Amz-Signature'. … 'X-Amz-SignedHeaders'. …
//	                                     'X-Amz-Date'. Re-examine the query-string parameters.
//	IncompleteSignatureException         X-Amz-Expires should be a number / must be non-negative /     S3's AuthorizationQueryParametersError texts:
//	                                     must be less than a week (in seconds); that is, the given     github.com/bryanjos/aws_auth/issues/31, github.com/minio/minio-js/issues/1312
//	                                     X-Amz-Expires must be less than 604800 seconds
//	UnrecognizedClientException          The security token included in the request is invalid.       from the SecretSource; github.com/spring-attic/spring-cloud-aws/issues/492
//	InvalidSignatureException            The request signature we calculated does not match the       github.com/smithy545/aws-apps-scripts/issues/12,
//	                                     signature you provided. Check your AWS Secret Access Key     github.com/furaiev/amazon-cognito-identity-dart-2/issues/85
//	                                     and signing method. Consult the service documentation for
//	                                     details.
//	InvalidSignatureException            Signature expired: 20261122T072500Z is now earlier than      repost.aws/knowledge-center/lambda-sdk-signature,
//	                                     20261122T074000Z (20261122T074500Z - 5 min.)                  hashnode-hub.vercel.app/posts/664de5a91e584186cd68a61c
//	InvalidSignatureException            Signature not yet current: 20261122T080500Z is still later    github.com/serverless/enterprise/issues/11
//	                                     than 20261122T075000Z (20261122T074500Z + 5 min.)
//	InvalidSignatureException            'Host' or ':authority' must be a 'SignedHeader' in the AWS    github.com/aws/aws-sdk-php/issues/2469 (DynamoDB)
//	                                     Authorization.
//	InvalidSignatureException            Date in Credential scope does not match YYYYMMDD from         scratchstack-aws-signature src/auth.rs (rule 13)
//	                                     ISO-8601 version of date from HTTP: '20261121' != '20261122',
//	                                     from '20261122T074500Z'.
//	InvalidSignatureException            Credential should be scoped with a valid terminator:          scratchstack-aws-signature src/auth.rs
//	                                     'aws4_request', not '<term>'.
//	InvalidSignatureException (ScopeError) Credential should be scoped to a valid region, not 'xx'.    github.com/aws/aws-sdk-ruby/issues/508, github.com/aws/aws-sdk-go/issues/156
//	InvalidSignatureException (ScopeError) Credential should be scoped to correct service: 'svc'.      github.com/arnemolland/sigv4/issues/15 (DynamoDB),
//	                                                                                                    github.com/cllunsford/aws-signing-proxy/issues/25
//	AccessDeniedException                Request has expired                                           S3's answer for an expired presigned URL:
//	                                                                                                    github.com/lukejacksonn/react-slack-clone/issues/27
//
// Each scope message ends in ". " (a trailing space), as AWS's raw JSON bodies show, so that
// several of them concatenate into one message.
//
// # Presigned URLs
//
// A request is presigned when its query holds X-Amz-Algorithm (or X-Amz-Signature); an
// X-Amz-Algorithm other than AWS4-HMAC-SHA256 makes it unsigned (MissingAuthenticationToken),
// and a request signed both ways fails as a signature mismatch. A presigned URL is good from
// X-Amz-Date (up to 5 minutes early, as for signed headers) until X-Amz-Date + X-Amz-Expires
// (0 to 604800 seconds; 15 minutes when absent, which is what AWS's non-S3 services apply to
// every presigned URL, see github.com/aws/aws-sdk-go/issues/2167). Past that it answers S3's
// AccessDeniedException "Request has expired": AWS's JSON services ignore X-Amz-Expires and
// have no wording of their own. The canonical query leaves out X-Amz-Signature only; the body
// hash may be UNSIGNED-PAYLOAD (in X-Amz-Content-Sha256, query or header).
//
// # Order of checks
//
// AWS checks the shape of the request and its time before it looks at the key
// (scratchstack-aws-signature, "AWS Auth Error Ordering"): a request that is both too old and
// signed with an unknown key answers "Signature expired", not UnrecognizedClientException. The
// order here is: which scheme (header, query, none); the header's key=value pairs; the missing
// parts; the algorithm; host among the signed headers; the date's format; the time window (for
// a presigned URL: not yet current, then expired); the credential's five parts; its terminator
// and date; the access key (UnrecognizedClientException); the body hash; the signature.
package sigv4
