// Command release-modules packages each module under modules/ into a
// versioned archive for a module registry (`make release-modules`) and
// prints the registry address and the git tag each version publishes from.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/attach-labs/terraform-provider-attach/internal/release"
)

func main() {
	modules := flag.String("modules", "modules", "directory holding one directory per module")
	out := flag.String("out", "dist/modules", "where the archives are written")
	flag.Parse()
	pkgs, err := release.PackageModules(*modules, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "release-modules:", err)
		os.Exit(1)
	}
	for _, m := range pkgs {
		fmt.Printf("%s  %s  %s  tag %s  sha256 %s\n", m.Archive, m.Address(), m.Version, m.Tag(), m.SHA256)
	}
}
