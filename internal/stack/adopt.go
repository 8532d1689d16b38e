package stack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/digitalocean/godo"
)

// Creates whose outcome is unknown. A create that timed out, lost its
// connection or got a 5xx may still have taken effect on DigitalOcean's
// side; one refused because the name is taken may be the stack's own
// earlier create whose answer never arrived. Either way the object is looked
// up by name (and checked to be the stack's) and adopted, so it is in state
// rather than orphaned, and the next apply does not fail on "name taken".

// lookupBudget bounds the search after a failed create; it runs on a
// context detached from the caller's, which may be what expired.
const lookupBudget = 5 * time.Second

// lookupDelays space the searches after an ambiguous failure: the request
// may still be in flight on the server.
var lookupDelays = []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}

// ambiguous reports whether a failed request may still have taken effect.
func ambiguous(err error) bool {
	s := statusOf(err)
	return s == 0 || s >= http.StatusInternalServerError
}

// nameTaken reports DigitalOcean's answers to a create whose name exists.
func nameTaken(err error) bool {
	s := statusOf(err)
	return s == http.StatusConflict || s == http.StatusUnprocessableEntity
}

// nameUnavailable reports a create refused because of its name: 409, or
// 422 saying the name is taken or not available (DigitalOcean holds the
// name of a deleted database, replica or cluster for some minutes:
// terraform-provider-digitalocean PR #198 discussion). Other 422s (a bad
// size, a node count "not available" for the engine) do not mention the
// name.
func nameUnavailable(err error) bool {
	switch statusOf(err) {
	case http.StatusConflict:
		return true
	case http.StatusUnprocessableEntity:
		msg := strings.ToLower(errorMessage(err))
		return strings.Contains(msg, "name") &&
			(strings.Contains(msg, "not available") || strings.Contains(msg, "taken") || strings.Contains(msg, "already exists") || strings.Contains(msg, "in use"))
	}
	return false
}

// errorMessage is DigitalOcean's message in an API error.
func errorMessage(err error) string {
	var er *godo.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}

// gaveUp reports an error of a Retry that ran out of time.
func gaveUp(err error) bool {
	var g *gaveUpError
	return errors.As(err, &g)
}

// adoptAfterFailedCreate runs find (which records what it finds and
// reports whether it found the object) when createErr leaves open whether
// the object exists. A "name taken" answer counts only when takenIsOurs:
// inside a database the stack does not own, a user or pool of that name
// may be someone else's, and adopting it would delete it on destroy.
func adoptAfterFailedCreate(ctx context.Context, createErr error, takenIsOurs bool, find func(ctx context.Context) (bool, error)) bool {
	if createErr == nil || !ambiguous(createErr) && !(takenIsOurs && nameTaken(createErr)) {
		return false
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupBudget)
	defer cancel()
	delays := lookupDelays[:1]
	if ambiguous(createErr) {
		delays = lookupDelays
	}
	for _, d := range delays {
		if sleepCtx(lctx, d) != nil {
			return false
		}
		if found, err := find(lctx); err == nil && found {
			return true
		}
	}
	return false
}

// IsNameUnavailable reports a create refused because of its name (taken,
// or held after a delete): see nameUnavailable.
func IsNameUnavailable(err error) bool { return nameUnavailable(err) }

// IsPreconditionFailed reports DigitalOcean's 412, its answer to a replica
// create before the primary's first backup exists.
func IsPreconditionFailed(err error) bool { return statusOf(err) == http.StatusPreconditionFailed }
