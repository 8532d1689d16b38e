package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

var (
	_ resource.ResourceWithConfigure   = (*inferenceStackResource)(nil)
	_ resource.ResourceWithImportState = (*inferenceStackResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*inferenceStackResource)(nil)
)

// Default operation timeouts: DOKS GPU pools take about 8 minutes and a
// database 5, so an hour leaves room for DigitalOcean's slow days.
const (
	defaultCreateTimeout = 60 * time.Minute
	defaultUpdateTimeout = 60 * time.Minute
	defaultDeleteTimeout = 30 * time.Minute
)

// privateStatusKey holds the engine's Status (every id the stack created
// or attached) in the resource's private state.
const privateStatusKey = "status"

// NewInferenceStackResource is attach_inference_stack.
func NewInferenceStackResource() resource.Resource { return &inferenceStackResource{} }

type inferenceStackResource struct {
	client *Client
}

func (r *inferenceStackResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_inference_stack"
}

func (r *inferenceStackResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, resp.Diagnostics.AddError)
}

func (r *inferenceStackResource) engine() *stack.Engine {
	e := stack.New(r.client.Godo)
	e.Poll = r.client.PollConfig()
	e.Locks, e.FirewallSettle, e.Watch = &r.client.firewallLocks, r.client.firewallSettle(), &r.client.watcher
	return e
}

func (r *inferenceStackResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx = r.client.LogContext(ctx)
	var plan stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	vpcGiven := configuredVPC(ctx, req.Config.GetAttribute, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	tflog.Info(ctx, "creating inference stack", map[string]any{"name": plan.Name.ValueString(), "region": plan.Region.ValueString()})
	// The create half of a whole-stack replacement adopts what its destroy
	// half kept: the databases, with their data, and the VPC.
	kept := r.client.replacements.take(plan.Name.ValueString())
	res, err := r.engine().Apply(ctx, plan.toSpec(vpcGiven), kept)
	addWarnings(&resp.Diagnostics, res.Warnings)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Creating stack %s failed", plan.Name.ValueString()), failureDetail(err, res.Status, true))
		if res.Status.Empty() {
			return // nothing exists: nothing to track
		}
		plan.observe(res.Status)
	}
	plan.setComputed(res.Status)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, res.Status, plan.secretsOmitted())...)
}

func (r *inferenceStackResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx = r.client.LogContext(ctx)
	var state stackModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	status, diags := loadPrivateStatus(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.client.stateOwners.add(state.Name.ValueString(), status.Owner)
	res, err := r.engine().Refresh(ctx, state.toSpec(false), status)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Reading stack %s failed", state.Name.ValueString()), err.Error())
		return
	}
	if res.Status.Empty() && !status.Empty() {
		tflog.Warn(ctx, "every part of the stack is gone; removing it from state", map[string]any{"name": state.Name.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	state.observe(res.Status)
	state.observeTagDrift(res.Status)
	state.setComputed(res.Status)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, res.Status, state.secretsOmitted())...)
}

func (r *inferenceStackResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx = r.client.LogContext(ctx)
	var plan, prior stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	vpcGiven := configuredVPC(ctx, req.Config.GetAttribute, &resp.Diagnostics)
	status, diags := loadPrivateStatus(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	res, err := r.engine().Apply(ctx, plan.toSpec(vpcGiven), status)
	addWarnings(&resp.Diagnostics, res.Warnings)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Updating stack %s failed", plan.Name.ValueString()), failureDetail(err, res.Status, false))
		// State shows what is, so the next plan shows what is left to do:
		// what the apply did not reach keeps its prior value, the rest
		// what DigitalOcean now has.
		plan.keepUnachieved(&prior, res.Status)
		plan.observe(res.Status)
	}
	plan.setComputed(res.Status)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, res.Status, plan.secretsOmitted())...)
}

func (r *inferenceStackResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.LogContext(ctx)
	var state stackModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	status, diags := loadPrivateStatus(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if status.Empty() {
		// Terraform gives the destroy half of replacing a stack (a tainted
		// one after a failed create, terraform taint, -replace) no private
		// state: rebuild the status from the ids in state, and hand it over
		// to the create half instead of deleting the databases with their
		// data (stack.Engine.HandOver).
		recovered, err := r.engine().Recover(ctx, state.toSpec(false), state.recoverIDs())
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Replacing stack %s failed", state.Name.ValueString()),
				"Reading the stack's parts from the ids in state: "+err.Error()+"\n\nNothing was deleted; run terraform apply again once the cause is fixed.")
			return
		}
		recovered.Owner = state.OwnerID.ValueString()
		res, err := r.engine().HandOver(ctx, state.toSpec(false), recovered)
		addWarnings(&resp.Diagnostics, res.Warnings)
		if err != nil {
			resp.Diagnostics.AddError(fmt.Sprintf("Replacing stack %s failed", state.Name.ValueString()),
				err.Error()+"\n\nNo database was deleted; run terraform apply again once the cause is fixed.")
			state.observe(res.Status)
			state.setComputed(res.Status)
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, res.Status, state.secretsOmitted())...)
			return
		}
		r.client.replacements.put(state.Name.ValueString(), res.Status)
		// Terraform plans the create half again before applying it: its
		// objects are this state's.
		r.client.stateOwners.add(state.Name.ValueString(), res.Status.Owner)
		return
	}

	opts := stack.DeleteOptions{Retain: map[string]bool{}, Protected: map[string]bool{}}
	for key, d := range state.Databases {
		opts.Retain[key] = d.RetainOnDestroy.ValueBool()
		opts.Protected[key] = d.DeletionProtection.ValueBool()
	}
	res, err := r.engine().Delete(ctx, state.toSpec(false), status, opts)
	addWarnings(&resp.Diagnostics, res.Warnings)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Destroying stack %s failed", state.Name.ValueString()),
			err.Error()+"\n\nWhat remains is still in state; run terraform destroy again once the cause is fixed.")
		state.observe(res.Status)
		state.setComputed(res.Status)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		resp.Diagnostics.Append(savePrivateStatus(ctx, resp.Private, res.Status, state.secretsOmitted())...)
	}
}

// recoverIDs lists the ids state shows for the stack's parts.
func (m *stackModel) recoverIDs() stack.RecoverIDs {
	ids := stack.RecoverIDs{VPCID: m.VPCID.ValueString(), ClusterID: m.ClusterID.ValueString(), Databases: map[string]string{},
		Stalled: stack.StalledInPending(m.Pending.ValueString())}
	for key, d := range m.Databases {
		ids.Databases[key] = d.ID.ValueString()
	}
	return ids
}

// failureDetail explains a failed step and how to resume.
func failureDetail(err error, st *stack.Status, creating bool) string {
	var b strings.Builder
	b.WriteString(err.Error())
	b.WriteString("\n\n")
	if creating {
		b.WriteString("Everything that was created is recorded in state (")
		b.WriteString(partsSummary(st))
		b.WriteString("), and the resource is marked tainted. The next `terraform apply` replaces the stack's cluster only: " +
			"every database it created is kept with its id and data, and so is the VPC. To keep the cluster too and create " +
			"only what is missing, run `terraform untaint <address>` then `terraform apply`. `terraform destroy` refuses " +
			"while a database has deletion_protection on, provisioned or not (set it to false first to let the database go).")
	} else {
		b.WriteString("State records what exists now (" + partsSummary(st) + "); fix the cause and run `terraform apply` again " +
			"to converge the rest.")
	}
	var stepErr *stack.StepError
	if errors.As(err, &stepErr) && len(stepErr.Skipped) > 0 {
		b.WriteString(" Not started because of the failure: " + strings.Join(stepErr.NotStarted(), ", ") + ".")
	}
	return b.String()
}

func partsSummary(st *stack.Status) string {
	var parts []string
	if st.VPCID != "" {
		parts = append(parts, "VPC "+st.VPCID)
	}
	if st.Cluster != nil {
		parts = append(parts, "cluster "+st.Cluster.ID)
	}
	for _, key := range sortedKeys(st.Databases) {
		parts = append(parts, "database "+key+" "+st.Databases[key].ID)
	}
	if len(parts) == 0 {
		return "nothing was created"
	}
	return strings.Join(parts, ", ")
}

func addWarnings(diags *diag.Diagnostics, warnings []stack.Warning) {
	for _, w := range warnings {
		diags.AddWarning(w.Title, w.Detail)
	}
}

// configuredVPC reports whether the configuration sets vpc_id.
func configuredVPC(ctx context.Context, get func(context.Context, path.Path, any) diag.Diagnostics, diags *diag.Diagnostics) bool {
	var v types.String
	diags.Append(get(ctx, path.Root("vpc_id"), &v)...)
	return !v.IsNull()
}

type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateWriter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func loadPrivateStatus(ctx context.Context, p privateState) (*stack.Status, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, privateStatusKey)
	if diags.HasError() {
		return nil, diags
	}
	st := &stack.Status{Databases: map[string]*stack.DatabaseStatus{}}
	if len(b) == 0 {
		return st, diags
	}
	if err := json.Unmarshal(b, st); err != nil {
		diags.AddError("Corrupt private state", "The stack's private state could not be read ("+err.Error()+"); re-import the stack with terraform import.")
		return nil, diags
	}
	if st.Databases == nil {
		st.Databases = map[string]*stack.DatabaseStatus{}
	}
	return st, diags
}

// savePrivateStatus saves the engine's status; omitSecrets (store_secrets =
// false) blanks every credential in it first, so private state holds none.
func savePrivateStatus(ctx context.Context, p privateWriter, st *stack.Status, omitSecrets bool) diag.Diagnostics {
	if omitSecrets {
		st = st.WithoutSecrets()
	}
	b, err := json.Marshal(st)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Saving private state failed", err.Error())
		return diags
	}
	return p.SetKey(ctx, privateStatusKey, b)
}
