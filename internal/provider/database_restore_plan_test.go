package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// restore_from on a database that exists: a known change is refused (it
// would restore nothing), but removing it, or a value unknown until apply
// (timestamp()), is no change at all; and a replacement, which starts the
// database empty, says so instead of restoring again.
func TestPlanRestoreFromOnAnExistingDatabase(t *testing.T) {
	rf := func(name, at string) *restoreFromModel {
		return &restoreFromModel{DatabaseName: types.StringValue(name), PointInTime: types.StringValue(at)}
	}
	prior := func() *databaseModel {
		return &databaseModel{ID: types.StringValue("db-1"), ExistingID: types.StringNull(), Engine: types.StringValue("pg"), Version: types.StringValue("16"),
			RestoreFrom: rf("source", "2026-11-30T10:00:00Z")}
	}
	for _, tc := range []struct {
		name   string
		change func(d *databaseModel)
		want   string // "": no diagnostic; "error: ..." or "warning: ..."
	}{
		{"unchanged", func(*databaseModel) {}, ""},
		{"removed", func(d *databaseModel) { d.RestoreFrom = nil }, ""},
		{"unknown until apply", func(d *databaseModel) { d.RestoreFrom.PointInTime = types.StringUnknown() }, ""},
		{"another point", func(d *databaseModel) { d.RestoreFrom = rf("source", "2026-11-29T10:00:00Z") }, "error: restore_from changed on an existing database"},
		{"replacement", func(d *databaseModel) { d.Version = types.StringValue("17") }, "warning: The replacement database starts empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := prior()
			tc.change(d)
			plan := &stackModel{Databases: map[string]*databaseModel{"vectors": d}}
			state := &stackModel{Databases: map[string]*databaseModel{"vectors": prior()}}
			var diags diag.Diagnostics
			(&planner{ctx: context.Background(), plan: plan, config: plan, state: state, diags: &diags}).restoreFrom()
			var got []string
			for _, d := range diags {
				got = append(got, strings.ToLower(d.Severity().String())+": "+d.Summary())
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Fatalf("diagnostics %q, want none", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Fatalf("diagnostics %q, want %q", got, tc.want)
			}
		})
	}
}
