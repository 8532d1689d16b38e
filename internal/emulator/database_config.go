package emulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/attach-labs/terraform-provider-attach/internal/engineconfig"
)

// Engine settings: GET/PATCH /v2/databases/{database_cluster_uuid}/config.
// Settings are validated against the spec's per-engine *_advanced_config
// schemas (the generated table in internal/engineconfig); the emulator
// keeps what was set and reports the spec's defaults for the rest (it runs
// no engine to apply them to).

// dbConfigExamples are settings the trimmed spec gives no default for,
// reported as DigitalOcean's untrimmed spec exemplifies them
// (specification/resources/databases/models/advanced_config/postgres_advanced_config.yml `example:`).
var dbConfigExamples = map[string]map[string]any{
	"pg": {
		"max_connections":        75,   // postgres_advanced_config.yml max_connections example: 75
		"work_mem":               4,    // postgres_advanced_config.yml work_mem example: 4
		"jit":                    true, // postgres_advanced_config.yml jit example: true
		"backup_hour":            3,    // postgres_advanced_config.yml backup_hour example: 3
		"backup_minute":          30,   // postgres_advanced_config.yml backup_minute example: 30
		"autovacuum_max_workers": 5,    // postgres_advanced_config.yml autovacuum_max_workers example: 5
	},
}

// dbConfig is what GET reports: the spec's defaults (and examples where it
// gives none), then what PATCHes set.
func dbConfig(cl *dbCluster) map[string]any {
	out := map[string]any{}
	for k, v := range dbConfigExamples[cl.Engine.Slug] {
		out[k] = v
	}
	for _, s := range engineconfig.Settings(cl.Engine.Slug) {
		if v, ok := dbSettingDefault(s); ok {
			out[s.Name] = v
		}
	}
	for k, v := range cl.config {
		if obj, ok := v.(map[string]any); ok {
			// Nested settings (pg's pgbouncer, timescaledb) merge into their defaults.
			merged, _ := out[k].(map[string]any)
			out[k] = dbMergeObject(merged, obj)
			continue
		}
		out[k] = v
	}
	return out
}

// dbSettingDefault is a setting's default: the spec's `default:` (carried in
// the generated table), or for an object the defaults of its fields.
func dbSettingDefault(s engineconfig.Setting) (any, bool) {
	if s.Type == engineconfig.Object {
		obj := map[string]any{}
		for _, f := range s.Fields {
			if v, ok := dbSettingDefault(f); ok {
				obj[f.Name] = v
			}
		}
		return obj, len(obj) > 0
	}
	if s.Default == "" {
		return nil, false
	}
	var v any
	if err := json.Unmarshal([]byte(s.Default), &v); err != nil {
		return nil, false
	}
	return v, true
}

func dbMergeObject(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func (s *databaseStore) getConfig(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	// Spec responses/database_config: {"config": {...}}, config required.
	c.respond(http.StatusOK, map[string]any{"config": dbConfig(cl)})
}

func (s *databaseStore) patchConfig(c *call) {
	cl, ok := s.cluster(c)
	if !ok {
		return
	}
	var req struct {
		Config map[string]any `json:"config"`
	}
	if !c.decode(&req) {
		return
	}
	// Spec databases_patch_config: the body is database_config, whose only property is config; without it there is nothing to change.
	if len(req.Config) == 0 {
		c.unprocessable("config is required: send {\"config\": {\"<setting>\": <value>}} with the settings to change")
		return
	}
	names := make([]string, 0, len(req.Config))
	for k := range req.Config {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		// Spec database_config.config: the engine's *_advanced_config properties; DigitalOcean answers 422 unprocessable_entity naming a setting it does not accept.
		set, ok := engineconfig.Lookup(cl.Engine.Slug, name)
		if !ok {
			hint := ""
			if close := engineconfig.Close(cl.Engine.Slug, name); len(close) > 0 {
				hint = " (did you mean " + strings.Join(close, ", ") + "?)"
			}
			c.unprocessable("config.%s is not a %s setting%s", name, cl.Engine.Name, hint)
			return
		}
		// Spec *_advanced_config: each property's type, minimum/maximum, enum and pattern.
		if err := set.Check(req.Config[name]); err != nil {
			c.unprocessable("config.%s: %v", name, err)
			return
		}
	}
	if cl.config == nil {
		cl.config = map[string]any{}
	}
	for _, name := range names {
		v := req.Config[name]
		if obj, ok := v.(map[string]any); ok {
			// A nested object's fields left out keep their values: PATCH semantics, and godo v1.236.0's PostgreSQLBouncerConfig sends only the fields set (omitempty pointers).
			prev, _ := cl.config[name].(map[string]any)
			v = dbMergeObject(prev, obj)
		}
		cl.config[name] = v
	}
	// Spec databases_patch_config: 200 with responses/no_content (no body).
	c.w.WriteHeader(http.StatusOK)
}
