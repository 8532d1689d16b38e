package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// storageSizeValidator checks databases[*].storage_size_mib: at least 1,
// or 0 on a database whose storage is not configurable (valkey), where 0 is
// what the provider reads back, so that configuration generated on import
// (terraform plan -generate-config-out) validates. On other engines 0 is
// refused: DigitalOcean would pick the size's default and every plan would
// show it changing back to 0.
type storageSizeValidator struct{}

func (storageSizeValidator) Description(context.Context) string {
	return "must be at least 1 (0 only on valkey, whose storage is not configurable)"
}

func (v storageSizeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (storageSizeValidator) ValidateInt64(ctx context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	n := req.ConfigValue.ValueInt64()
	if n >= 1 {
		return
	}
	var engine types.String
	_ = req.Config.GetAttribute(ctx, req.Path.ParentPath().AtName("engine"), &engine)
	if n == 0 && (engine.IsUnknown() || engine.ValueString() == "valkey") {
		return
	}
	detail := fmt.Sprintf("Attribute %s value must be at least 1, got: %d", req.Path, n)
	if n == 0 {
		detail += fmt.Sprintf(". 0 is what the provider reads back where storage is not configurable (valkey); on %s leave storage_size_mib unset for the size's default", engine.ValueString())
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid Attribute Value", detail)
}
