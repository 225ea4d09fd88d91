package domain

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error; api maps each kind to one HTTP status in one place.
type Kind int

// The kinds of domain error, in docs/API.md's validation order.
const (
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	// Unavailable is a temporary refusal (503): the server is overloaded or shutting down.
	Unavailable
	// RateLimited refuses a client that failed authentication too often (429, with Retry-After).
	RateLimited
)

// Error is a domain error whose message is safe to show a client. Messages of Invalid errors start
// with the field's canonical name ("amount: must be ...").
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Errorf builds a domain error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// FieldError reports a bad parameter: the message starts with the field's name.
func FieldError(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Msg: field + ": " + fmt.Sprintf(format, args...)}
}

// ErrorKind returns the kind of a domain error, or Internal for anything else.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// ErrorMessage returns the client-safe message of a domain error, or "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return "internal error"
}
