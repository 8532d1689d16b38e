package stack

import (
	"testing"
	"time"
)

// A token is renewed when less than half its lifetime remains, never
// earlier than two days before it expires.
func TestKubeconfigRenewal(t *testing.T) {
	for lifetime, want := range map[time.Duration]time.Duration{
		KubeconfigLifetime:  KubeconfigRenewBefore,
		24 * time.Hour:      12 * time.Hour,
		time.Hour:           30 * time.Minute,
		30 * 24 * time.Hour: KubeconfigRenewBefore,
	} {
		if got := KubeconfigRenewal(lifetime); got != want {
			t.Errorf("KubeconfigRenewal(%s) = %s, want %s", lifetime, got, want)
		}
	}
}
