package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/attach-labs/terraform-provider-attach/internal/engineconfig"
)

// Engine settings (GET/PATCH /v2/databases/{id}/config): the settings the
// configuration names are PATCHed after the database is online and
// whenever DigitalOcean's value differs; only those settings are read back,
// so DigitalOcean's others never show as drift. A setting taken out of the
// configuration keeps the value DigitalOcean has. godo's typed config
// structs lack some of the spec's settings (pg max_connections), so the
// calls go through godo's generic request.

func (r *run) ensureConfigStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		want := r.spec.Databases[key].Config
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		if len(want) == 0 {
			if d.Config != nil {
				r.update(func(st *Status) { st.Databases[key].Config = nil })
			}
			return nil
		}
		got, err := r.readConfig(ctx, key, d.ID)
		if err != nil {
			return err
		}
		patch := map[string]any{}
		var changed []string
		for _, name := range sortedKeys(want) {
			s, ok := engineconfig.Lookup(d.Engine, name)
			if !ok {
				return fmt.Errorf("database %s: %q is not a %s setting DigitalOcean knows: remove it from databases[%q].config", key, name, d.Engine, key)
			}
			v, err := s.Parse(want[name])
			if err != nil {
				return fmt.Errorf("database %s: config[%q]: %v", key, name, err)
			}
			if cur, ok := got[name]; ok && s.Same(want[name], cur) {
				continue
			}
			patch[name] = v
			changed = append(changed, name)
		}
		if len(patch) > 0 {
			req, err := r.e.API.NewRequest(ctx, http.MethodPatch, "/v2/databases/"+d.ID+"/config", map[string]any{"config": patch})
			if err != nil {
				return err
			}
			if _, err := r.e.API.Do(ctx, req, nil); err != nil {
				return apiErr(fmt.Sprintf("setting %s of database %s (%s)", strings.Join(changed, ", "), key, d.Name), err)
			}
		}
		rec := map[string]string{}
		for name, v := range want {
			cur, seen := got[name]
			if _, patched := patch[name]; patched || !seen {
				rec[name] = v
			} else {
				rec[name] = cur
			}
		}
		r.update(func(st *Status) { st.Databases[key].Config = rec })
		return nil
	}
}

// refreshConfig reads back the settings the stack manages.
func (r *run) refreshConfig(ctx context.Context, key string, prior DatabaseStatus) error {
	if len(prior.Config) == 0 {
		return nil
	}
	got, err := r.readConfig(ctx, key, prior.ID)
	if err != nil {
		return err
	}
	rec := map[string]string{}
	for name, applied := range prior.Config {
		if v, ok := got[name]; ok {
			rec[name] = v
		} else {
			// A setting DigitalOcean's GET leaves out (a nullable one, say)
			// keeps what the stack applied: reading it as gone would plan
			// the same PATCH on every run.
			rec[name] = applied
		}
	}
	r.update(func(st *Status) {
		if d := st.Databases[key]; d != nil {
			d.Config = rec
		}
	})
	return nil
}

// readConfig reads a database's settings, each written as
// engineconfig.Format writes it.
func (r *run) readConfig(ctx context.Context, key, id string) (map[string]string, error) {
	req, err := r.e.API.NewRequest(ctx, http.MethodGet, "/v2/databases/"+id+"/config", nil)
	if err != nil {
		return nil, err
	}
	var root struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	if _, err := r.e.API.Do(ctx, req, &root); err != nil {
		return nil, apiErr(fmt.Sprintf("reading the settings of database %s (%s)", key, id), err)
	}
	out := map[string]string{}
	for name, raw := range root.Config {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("reading the settings of database %s (%s): %s: %w", key, id, name, err)
		}
		if n, ok := v.(json.Number); ok {
			out[name] = n.String()
			continue
		}
		out[name] = engineconfig.Format(v)
	}
	return out, nil
}
