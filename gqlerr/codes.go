// Package gqlerr holds the error codes of the public contract
// (extensions.code) and the helpers that build GraphQL errors carrying them.
// Every layer that produces a client-visible error uses these names, so the
// set of codes a client can see is written down once.
package gqlerr

import (
	"net/http"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Code is the value of extensions.code on a GraphQL error.
type Code string

// The codes of graphql-api.md, "Errors".
const (
	ParseFailed            Code = "GRAPHQL_PARSE_FAILED"
	ValidationFailed       Code = "GRAPHQL_VALIDATION_FAILED"
	BadRequest             Code = "BAD_REQUEST"
	Unauthenticated        Code = "UNAUTHENTICATED"
	Forbidden              Code = "FORBIDDEN"
	BadUserInput           Code = "BAD_USER_INPUT"
	UpstreamUnavailable    Code = "UPSTREAM_UNAVAILABLE"
	UpstreamError          Code = "UPSTREAM_ERROR"
	QueryTooComplex        Code = "QUERY_TOO_COMPLEX"
	PersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
	RateLimited            Code = "RATE_LIMITED"
	Internal               Code = "INTERNAL"
)

// New returns a GraphQL error with the given code and a message that is safe
// to show to clients.
func New(code Code, message string) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    message,
		Extensions: map[string]any{"code": string(code)},
	}
}

// CodeOf returns the extensions.code of err, or "" when it has none.
func CodeOf(err *gqlerror.Error) Code {
	if err == nil || err.Extensions == nil {
		return ""
	}
	c, _ := err.Extensions["code"].(string)
	return Code(c)
}

// HTTPStatus is the status a response carries when it holds no data and its
// first error has this code (a request error). Field errors inside a
// response with data never change the status from 200.
func HTTPStatus(code Code) int {
	switch code {
	case PersistedQueryNotFound:
		// Automatic persisted queries: the client answers this by sending
		// the query with its hash; Apollo's clients expect it with 200.
		return http.StatusOK
	case ParseFailed, ValidationFailed, BadRequest, QueryTooComplex, BadUserInput:
		return http.StatusBadRequest
	case Unauthenticated:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case RateLimited:
		return http.StatusTooManyRequests
	case UpstreamUnavailable:
		return http.StatusServiceUnavailable
	case UpstreamError:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

// Known reports whether c is one of the contract's codes.
func Known(c Code) bool {
	switch c {
	case ParseFailed, ValidationFailed, BadRequest, Unauthenticated, Forbidden, BadUserInput,
		UpstreamUnavailable, UpstreamError, QueryTooComplex, PersistedQueryNotFound, RateLimited, Internal:
		return true
	}
	return false
}
