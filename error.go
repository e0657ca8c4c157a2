package coffer

import (
	"errors"
	"fmt"
)

// Error codes. Each is the exact name of the AWS exception a client matches on; the awsapi
// package maps a code to its HTTP status and wire shape in one table.
const (
	// Secrets Manager service errors (secretsmanager.service-2.json).
	ErrDecryptionFailure       = "DecryptionFailure"
	ErrEncryptionFailure       = "EncryptionFailure"
	ErrInternalServiceError    = "InternalServiceError"
	ErrInvalidNextToken        = "InvalidNextTokenException"
	ErrInvalidParameter        = "InvalidParameterException"
	ErrInvalidRequest          = "InvalidRequestException"
	ErrLimitExceeded           = "LimitExceededException"
	ErrMalformedPolicyDocument = "MalformedPolicyDocumentException"
	ErrPreconditionNotMet      = "PreconditionNotMetException"
	ErrPublicPolicy            = "PublicPolicyException"
	ErrResourceExists          = "ResourceExistsException"
	ErrResourceNotFound        = "ResourceNotFoundException"

	// KMS errors (kms.service-2.json); KMS bodies say "message".
	ErrKMSNotFound          = "NotFoundException"
	ErrKMSDisabled          = "DisabledException"
	ErrKMSInvalidState      = "KMSInvalidStateException"
	ErrKMSInvalidCiphertext = "InvalidCiphertextException"
	ErrKMSAlreadyExists     = "AlreadyExistsException"
	ErrKMSInvalidAliasName  = "InvalidAliasNameException"
	ErrKMSIncorrectKey      = "IncorrectKeyException"
	ErrKMSUnsupported       = "UnsupportedOperationException"
	ErrKMSInvalidArn        = "InvalidArnException"
	ErrKMSTag               = "TagException"
	ErrKMSInvalidMarker     = "InvalidMarkerException"
	ErrKMSInvalidKeyUsage   = "InvalidKeyUsageException"
	ErrKMSDryRunOperation   = "DryRunOperationException"
	ErrKMSInvalidGrantToken = "InvalidGrantTokenException"
	ErrKMSDependencyTimeout = "DependencyTimeoutException"

	// Errors common to every AWS JSON service.
	ErrAccessDenied       = "AccessDeniedException"
	ErrValidation         = "ValidationException"
	ErrSerialization      = "SerializationException"
	ErrUnknownOperation   = "UnknownOperationException"
	ErrThrottling         = "ThrottlingException"
	ErrServiceUnavailable = "ServiceUnavailableException"

	// Authentication errors, as AWS's JSON services answer them (lower-case "message").
	ErrMissingAuthToken    = "MissingAuthenticationTokenException"
	ErrIncompleteSignature = "IncompleteSignatureException"
	ErrUnrecognizedClient  = "UnrecognizedClientException"
	ErrInvalidSignature    = "InvalidSignatureException"
)

// Error is the one error type that crosses package boundaries toward a client. Code is the AWS
// exception name; Message is safe to show to the caller (it never holds a secret value, a key or
// an internal cause); Err is the internal cause, for the log only.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements error. It includes the cause, so it is for logs, never for the wire.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected cause as an InternalServiceError whose message says nothing of it.
func Internal(cause error) *Error {
	return &Error{Code: ErrInternalServiceError, Message: "An error occurred on the server side.", Err: cause}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and InternalServiceError otherwise.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternalServiceError
}

// AsError returns err as an *Error, wrapping anything else as an internal error.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// NotFound is the error a store returns when the thing asked for does not exist. The core turns
// it into the operation-specific ResourceNotFoundException message AWS uses.
var NotFound = &Error{Code: ErrResourceNotFound, Message: "Secrets Manager can't find the specified secret."}

// IsNotFound reports whether err is a ResourceNotFoundException.
func IsNotFound(err error) bool { return ErrorCode(err) == ErrResourceNotFound }
