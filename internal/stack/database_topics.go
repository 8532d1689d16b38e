package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/digitalocean/godo"
)

// Kafka topics (/v2/databases/{id}/topics): created when listed, their
// partition count grown, replication factor and settings changed in place,
// and deleted when removed (plan time refuses that under deletion
// protection: a topic holds data). Refresh reads every topic the stack
// created, so one deleted or edited outside Terraform shows as drift. Only
// the settings named in the configuration are managed; the others keep
// DigitalOcean's defaults or whatever was set outside Terraform.

// TopicSpec is a Kafka topic. Config holds settings of the spec's
// kafka_topic_config, as strings (see TopicConfigKeys).
type TopicSpec struct {
	Partitions        int
	ReplicationFactor int
	Config            map[string]string `json:",omitempty"`
}

// TopicConfigKey is the type of one topic setting: "string" (one of Enum),
// "integer", "number" (within Min and Max when set) or "boolean".
type TopicConfigKey struct {
	Kind     string
	Enum     []string
	Min, Max *float64
}

func bound(f float64) *float64 { return &f }

// topicMessageFormats are the values the spec's kafka_topic_config gives
// message_format_version.
var topicMessageFormats = []string{"0.8.0", "0.8.1", "0.8.2", "0.9.0", "0.10.0-IV0", "0.10.0-IV1", "0.10.1-IV0", "0.10.1-IV1", "0.10.1-IV2",
	"0.10.2-IV0", "0.11.0-IV0", "0.11.0-IV1", "0.11.0-IV2", "1.0-IV0", "1.1-IV0", "2.0-IV0", "2.0-IV1", "2.1-IV0", "2.1-IV1", "2.1-IV2",
	"2.2-IV0", "2.2-IV1", "2.3-IV0", "2.3-IV1", "2.4-IV0", "2.4-IV1", "2.5-IV0", "2.6-IV0", "2.7-IV0", "2.7-IV1", "2.7-IV2", "2.8-IV0",
	"2.8-IV1", "3.0-IV0", "3.0-IV1", "3.1-IV0", "3.2-IV0", "3.3-IV0", "3.3-IV1", "3.3-IV2", "3.3-IV3"}

// TopicConfigKeys are the settings of the spec's kafka_topic_config that
// godo v1.236.0's TopicConfig carries.
var TopicConfigKeys = map[string]TopicConfigKey{
	"cleanup_policy":                 {Kind: "string", Enum: []string{"delete", "compact", "compact_delete"}},
	"compression_type":               {Kind: "string", Enum: []string{"producer", "gzip", "snappy", "Iz4", "zstd", "uncompressed"}},
	"delete_retention_ms":            {Kind: "integer", Min: bound(0)},
	"file_delete_delay_ms":           {Kind: "integer", Min: bound(0)},
	"flush_messages":                 {Kind: "integer", Min: bound(0)},
	"flush_ms":                       {Kind: "integer", Min: bound(0)},
	"index_interval_bytes":           {Kind: "integer", Min: bound(0)},
	"max_compaction_lag_ms":          {Kind: "integer", Min: bound(0)},
	"max_message_bytes":              {Kind: "integer", Min: bound(0)},
	"message_down_conversion_enable": {Kind: "boolean"},
	"message_format_version":         {Kind: "string", Enum: topicMessageFormats},
	"message_timestamp_type":         {Kind: "string", Enum: []string{"create_time", "log_append_time"}},
	"min_cleanable_dirty_ratio":      {Kind: "number", Min: bound(0), Max: bound(1)},
	"min_compaction_lag_ms":          {Kind: "integer", Min: bound(0)},
	"min_insync_replicas":            {Kind: "integer", Min: bound(1)},
	"preallocate":                    {Kind: "boolean"},
	"retention_bytes":                {Kind: "integer", Min: bound(-1)},
	"retention_ms":                   {Kind: "integer", Min: bound(-1)},
	"segment_bytes":                  {Kind: "integer", Min: bound(14)},
	"segment_jitter_ms":              {Kind: "integer", Min: bound(0)},
	"segment_ms":                     {Kind: "integer", Min: bound(1)},
}

// TopicDefaults: DigitalOcean's topic defaults (3 partitions, replication
// factor 2, as the official provider's digitalocean_database_kafka_topic)
// and the official provider's bounds on partitions.
const (
	TopicDefaultPartitions  = 3
	TopicDefaultReplication = 2
	TopicMinPartitions      = 3
	TopicMaxPartitions      = 2048
	TopicMinReplication     = 2
)

// ParseTopicValue parses a setting's string form; the error says what the
// setting takes.
func ParseTopicValue(key, value string) (any, error) {
	k, ok := TopicConfigKeys[key]
	if !ok {
		return nil, fmt.Errorf("%q is not a Kafka topic setting; settings: %s", key, joinSorted(slices.Collect(maps.Keys(TopicConfigKeys))))
	}
	inBounds := func(f float64) error {
		if k.Min != nil && f < *k.Min || k.Max != nil && f > *k.Max {
			return fmt.Errorf("%s = %q is out of range: %s", key, value, k.bounds())
		}
		return nil
	}
	switch k.Kind {
	case "string":
		if k.Enum != nil && !slices.Contains(k.Enum, value) {
			return nil, fmt.Errorf("%s = %q is not valid: use one of %s", key, value, joinSorted(k.Enum))
		}
		if value == "" {
			return nil, fmt.Errorf("%s is empty", key)
		}
		return value, nil
	case "boolean":
		b, err := strconv.ParseBool(value)
		if err != nil || (value != "true" && value != "false") {
			return nil, fmt.Errorf("%s = %q is not valid: use \"true\" or \"false\"", key, value)
		}
		return b, nil
	case "integer":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s = %q is not a whole number", key, value)
		}
		return n, inBounds(float64(n))
	default:
		f, err := strconv.ParseFloat(value, 32)
		if err != nil {
			return nil, fmt.Errorf("%s = %q is not a number", key, value)
		}
		return f, inBounds(f)
	}
}

func (k TopicConfigKey) bounds() string {
	switch {
	case k.Min != nil && k.Max != nil:
		return fmt.Sprintf("use %g to %g", *k.Min, *k.Max)
	case k.Min != nil:
		return fmt.Sprintf("use %g or more", *k.Min)
	}
	return ""
}

func joinSorted(list []string) string {
	list = slices.Clone(list)
	slices.Sort(list)
	out := ""
	for i, s := range list {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// SameTopicValue reports whether two string forms of a setting mean the
// same value ("0.50" and "0.5").
func SameTopicValue(key, a, b string) bool {
	if a == b {
		return true
	}
	va, errA := ParseTopicValue(key, a)
	vb, errB := ParseTopicValue(key, b)
	return errA == nil && errB == nil && va == vb
}

// topicConfigRequest turns settings into godo's TopicConfig (nil when none).
func topicConfigRequest(config map[string]string) (*godo.TopicConfig, error) {
	if len(config) == 0 {
		return nil, nil
	}
	raw := map[string]any{}
	for k, v := range config {
		parsed, err := ParseTopicValue(k, v)
		if err != nil {
			return nil, err
		}
		raw[k] = parsed
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var out godo.TopicConfig
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// observedTopicConfig is the string form of the settings in keys, as
// DigitalOcean reports them.
func observedTopicConfig(c *godo.TopicConfig, keys []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	out := map[string]string{}
	var all map[string]any
	if c != nil {
		b, _ := json.Marshal(c)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		_ = dec.Decode(&all)
	}
	for _, k := range keys {
		switch v := all[k].(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case json.Number:
			out[k] = v.String()
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// topicFrom is what DigitalOcean reports of topic t, keeping the settings
// in keys.
func topicFrom(t *godo.DatabaseTopic, keys []string) TopicSpec {
	out := TopicSpec{Partitions: len(t.Partitions), Config: observedTopicConfig(t.Config, keys)}
	if t.ReplicationFactor != nil {
		out.ReplicationFactor = int(*t.ReplicationFactor)
	}
	return out
}

// topicDiffers reports whether have differs from want in what want manages.
func topicDiffers(want, have TopicSpec) bool {
	if want.Partitions != have.Partitions || want.ReplicationFactor != have.ReplicationFactor {
		return true
	}
	for k, v := range want.Config {
		if !SameTopicValue(k, v, have.Config[k]) {
			return true
		}
	}
	return false
}

func cloneTopics(m map[string]TopicSpec) map[string]TopicSpec {
	if m == nil {
		return nil
	}
	out := make(map[string]TopicSpec, len(m))
	for k, t := range m {
		t.Config = maps.Clone(t.Config)
		out[k] = t
	}
	return out
}

func (r *run) recordTopic(key, name string, t TopicSpec) {
	r.update(func(st *Status) {
		d := st.Databases[key]
		if d.Topics == nil {
			d.Topics = map[string]TopicSpec{}
		}
		d.Topics[name] = t
	})
}

func u32(n int) *uint32 { v := uint32(n); return &v }

func (r *run) ensureTopicsStep(key string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		spec := r.spec.Databases[key]
		d := view(r, func(st *Status) DatabaseStatus { return *st.Databases[key] })
		if len(spec.Topics) == 0 && len(d.Topics) == 0 {
			return nil
		}
		for _, name := range sortedKeys(spec.Topics) {
			want := spec.Topics[name]
			keys := slices.Sorted(maps.Keys(want.Config))
			config, err := topicConfigRequest(want.Config)
			if err != nil {
				return fmt.Errorf("topic %s of database %s: %w", name, key, err)
			}
			have, exists := d.Topics[name]
			if !exists {
				req := &godo.DatabaseCreateTopicRequest{Name: name, PartitionCount: u32(want.Partitions), ReplicationFactor: u32(want.ReplicationFactor), Config: config}
				t, _, err := r.e.API.Databases.CreateTopic(ctx, d.ID, req)
				if err == nil {
					r.recordTopic(key, name, topicFrom(t, keys))
					continue
				}
				adopted := adoptAfterFailedCreate(ctx, err, d.Owned, func(ctx context.Context) (bool, error) {
					found, _, err := r.e.API.Databases.GetTopic(ctx, d.ID, name)
					if err == nil && found != nil {
						t = found
					}
					return err == nil && found != nil, err
				})
				if !adopted || ctx.Err() != nil {
					return apiErr(fmt.Sprintf("creating topic %s (%d partitions, replication factor %d) in database %s", name, want.Partitions, want.ReplicationFactor, key), err)
				}
				// A create answered with an error that took effect: adopted,
				// then brought to what is wanted below.
				have = topicFrom(t, keys)
				r.recordTopic(key, name, have)
			}
			if !topicDiffers(want, have) {
				// Same values; the settings managed may have changed.
				if !slices.Equal(slices.Sorted(maps.Keys(have.Config)), keys) {
					r.recordTopic(key, name, TopicSpec{Partitions: have.Partitions, ReplicationFactor: have.ReplicationFactor, Config: maps.Clone(want.Config)})
				}
				continue
			}
			if want.Partitions < have.Partitions {
				return fmt.Errorf("topic %s of database %s has %d partitions and Kafka cannot remove partitions (%d asked): create a topic under a new name instead", name, key, have.Partitions, want.Partitions)
			}
			req := &godo.DatabaseUpdateTopicRequest{PartitionCount: u32(want.Partitions), ReplicationFactor: u32(want.ReplicationFactor), Config: config}
			if _, err := r.e.API.Databases.UpdateTopic(ctx, d.ID, name, req); err != nil {
				return apiErr(fmt.Sprintf("updating topic %s in database %s", name, key), err)
			}
			t, _, err := r.e.API.Databases.GetTopic(ctx, d.ID, name)
			if err != nil {
				return apiErr(fmt.Sprintf("reading topic %s in database %s", name, key), err)
			}
			r.recordTopic(key, name, topicFrom(t, keys))
		}
		for _, name := range sortedKeys(d.Topics) {
			if _, wanted := spec.Topics[name]; wanted {
				continue
			}
			if _, err := r.e.API.Databases.DeleteTopic(ctx, d.ID, name); err != nil && !isNotFound(err) {
				return apiErr(fmt.Sprintf("deleting topic %s from database %s", name, key), err)
			}
			r.update(func(st *Status) { delete(st.Databases[key].Topics, name) })
		}
		return nil
	}
}

// refreshTopics reads each topic the stack created; one deleted outside
// Terraform leaves the status.
func (r *run) refreshTopics(ctx context.Context, key string, prior DatabaseStatus) error {
	for _, name := range sortedKeys(prior.Topics) {
		t, _, err := r.e.API.Databases.GetTopic(ctx, prior.ID, name)
		if isNotFound(err) {
			r.update(func(st *Status) {
				if d := st.Databases[key]; d != nil {
					delete(d.Topics, name)
				}
			})
			continue
		}
		if err != nil {
			return apiErr(fmt.Sprintf("reading topic %s of database %s", name, key), err)
		}
		got := topicFrom(t, slices.Sorted(maps.Keys(prior.Topics[name].Config)))
		r.update(func(st *Status) {
			if d := st.Databases[key]; d != nil && d.Topics != nil {
				d.Topics[name] = got
			}
		})
	}
	return nil
}
