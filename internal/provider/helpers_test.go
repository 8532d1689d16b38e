package provider

import (
	"regexp"
	"time"
)

type regexpT = regexp.Regexp

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func sleep(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }
