package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
)

// Where the provider read its token and endpoint from, for error messages:
// a rejected token or an unreachable endpoint is fixed where it was set.
const (
	tokenFromAttribute   = "the provider block's `token` attribute"
	tokenFromEnv         = "the " + EnvToken + " environment variable"
	tokenFromAccessEnv   = "the " + EnvAccessToken + " environment variable (" + EnvToken + " is unset)"
	tokenFromClient      = "the client configuration"
	endpointFromAttr     = "set by the provider block's `api_endpoint` attribute"
	endpointFromEnv      = "set by " + EnvAPIURL
	endpointFromDefault  = "the default: neither `api_endpoint` nor " + EnvAPIURL + " is set"
	endpointFromClient   = "set in the client configuration"
	endpointFixSuggested = "Check `api_endpoint` in the provider block and " + EnvAPIURL + ": use " + DefaultAPIEndpoint +
		", or the URL the emulator printed."
)

// TokenRejectedError is DigitalOcean's 401: the token is wrong, expired or
// revoked. Nothing a retry can fix, and nothing to do with the object the
// call was about, so it names the token's source instead.
type TokenRejectedError struct {
	Endpoint    string
	TokenSource string
	// Message and RequestID are the API's own.
	Message   string
	RequestID string
}

func (e *TokenRejectedError) Error() string {
	answer := "401"
	if e.Message != "" {
		answer += " " + e.Message
	}
	if e.RequestID != "" {
		answer += ", request id " + e.RequestID
	}
	return fmt.Sprintf("the API token was rejected by %s (%s). The provider read it from %s: check that it holds a current "+
		"token with read and write scopes (tokens expire and can be revoked; create one at "+
		"https://cloud.digitalocean.com/account/api/tokens), or, against the emulator, the token it printed.",
		e.Endpoint, answer, e.TokenSource)
}

// AboutTheWholeAPI marks the error as concerning every call, not one object
// (see stack.APIError).
func (e *TokenRejectedError) AboutTheWholeAPI() {}

// EndpointError is a request that could not reach the API at all: the
// connection was refused, the host does not resolve, or TLS failed. Final
// ones are not retried: no amount of waiting makes a closed port open or a
// plain-HTTP server speak TLS.
type EndpointError struct {
	Endpoint       string
	EndpointSource string
	// Cause says what happened, in words; Err is the network error.
	Cause string
	Err   error
	Final bool
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("cannot reach the DigitalOcean API at %s (%s): %s. %s", e.Endpoint, e.EndpointSource, e.Cause, endpointFixSuggested)
}

func (e *EndpointError) Unwrap() error { return e.Err }

// AboutTheWholeAPI marks the error as concerning every call (see
// stack.APIError).
func (e *EndpointError) AboutTheWholeAPI() {}

// reachTransport turns a 401 and a failure to reach the endpoint into
// errors that say what happened and where the token or the endpoint came
// from. It sits below the retry layer, which stops on them (see
// finalRequestError), and above the pacer and the logger, so both still
// see every attempt.
type reachTransport struct {
	base           http.RoundTripper
	endpoint       string
	endpointSource string
	tokenSource    string
}

func (t reachTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		if cause, final, ok := unreachable(err); ok {
			return nil, &EndpointError{Endpoint: t.endpoint, EndpointSource: t.endpointSource, Cause: cause, Err: err, Final: final}
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		rejected := &TokenRejectedError{Endpoint: t.endpoint, TokenSource: t.tokenSource, RequestID: resp.Header.Get("X-Request-Id")}
		var body struct {
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) == nil {
			rejected.Message = body.Message
			if rejected.RequestID == "" {
				rejected.RequestID = body.RequestID
			}
		}
		_ = resp.Body.Close()
		return nil, rejected
	}
	return resp, nil
}

// unreachable recognizes the network errors that mean the endpoint itself
// is wrong, and says which in words; final ones are not worth a retry.
func unreachable(err error) (cause string, final bool, ok bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "", false, false
	}
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused (nothing listens at that address and port)", true, true
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("the host name %s does not resolve (no such host)", dnsErr.Name), true, true
		}
		// A resolver that timed out or failed for now may answer on retry.
		return fmt.Sprintf("looking up the host name %s failed (%v)", dnsErr.Name, dnsErr.Err),
			!dnsErr.IsTimeout && !dnsErr.IsTemporary, true
	case errors.As(err, &recordErr):
		if string(recordErr.RecordHeader[:]) == "HTTP/" {
			return "the endpoint is https:// but the server there answered in plain HTTP (first record does not look like " +
				"a TLS handshake); a plain-HTTP endpoint such as the emulator needs an http:// URL", true, true
		}
		return "the server there did not answer the TLS handshake (first record does not look like a TLS handshake); " +
			"check the scheme and the port", true, true
	case errors.As(err, &unknownCA), errors.As(err, &badHost), errors.As(err, &invalidCert), errors.As(err, &verifyErr):
		return fmt.Sprintf("its TLS certificate is not trusted (%v)", err), true, true
	}
	return "", false, false
}

// finalRequestError reports whether err is one a retry cannot fix.
func finalRequestError(err error) bool {
	var rejected *TokenRejectedError
	var ee *EndpointError
	return errors.As(err, &rejected) || (errors.As(err, &ee) && ee.Final)
}
