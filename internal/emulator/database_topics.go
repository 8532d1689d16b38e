package emulator

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kafka topics: /v2/databases/{database_cluster_uuid}/topics and
// /topics/{topic_name} (spec databases_*_kafka_topic). A topic has a
// partition count, a replication factor and a configuration (the spec's
// kafka_topic_config); GET answers the verbose form (kafka_topic_verbose:
// one entry per partition, the whole configuration with its defaults).

type dbTopic struct {
	Name              string
	PartitionCount    int
	ReplicationFactor int
	Config            map[string]any // only the keys set; defaults fill the rest on read
}

const (
	// Spec kafka_topic_base example partition_count 3; the official provider's digitalocean_database_kafka_topic defaults partition_count to 3.
	dbTopicDefaultPartitions = 3
	// The official provider's digitalocean_database_kafka_topic validates partition_count between 3 and 2048.
	dbTopicMinPartitions, dbTopicMaxPartitions = 3, 2048
	// Spec kafka_topic_base example replication_factor 2; the official provider defaults it to 2 and requires at least 2.
	dbTopicDefaultReplication, dbTopicMinReplication = 2, 2
)

// Apache Kafka's Topic.validate: legal characters are ASCII letters, digits, '.', '_' and '-', at most 249 of them, not "." or "..".
var dbTopicNamePattern = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// dbTopicConfigKey is one property of the spec's kafka_topic_config: its
// JSON type, allowed values (enums), lower and upper bounds, and default.
type dbTopicConfigKey struct {
	kind     string // "string", "integer", "number", "boolean"
	enum     []string
	min, max *float64
	def      any
}

func ptrF(f float64) *float64 { return &f }

// dbTopicConfigKeys is the spec's kafka_topic_config, property by property.
var dbTopicConfigKeys = map[string]dbTopicConfigKey{
	"cleanup_policy":                 {kind: "string", enum: []string{"delete", "compact", "compact_delete"}, def: "delete"},
	"compression_type":               {kind: "string", enum: []string{"producer", "gzip", "snappy", "Iz4", "zstd", "uncompressed"}, def: "producer"},
	"delete_retention_ms":            {kind: "integer", def: int64(86400000)},
	"file_delete_delay_ms":           {kind: "integer", def: int64(60000)},
	"flush_messages":                 {kind: "integer", def: int64(math.MaxInt64)},
	"flush_ms":                       {kind: "integer", def: int64(math.MaxInt64)},
	"index_interval_bytes":           {kind: "integer", def: int64(4096)},
	"max_compaction_lag_ms":          {kind: "integer", def: int64(math.MaxInt64)},
	"max_message_bytes":              {kind: "integer", def: int64(1048588)},
	"message_down_conversion_enable": {kind: "boolean", def: true},
	"message_format_version":         {kind: "string", enum: dbTopicMessageFormats, def: "3.0-IV1"},
	"message_timestamp_type":         {kind: "string", enum: []string{"create_time", "log_append_time"}, def: "create_time"},
	"min_cleanable_dirty_ratio":      {kind: "number", min: ptrF(0), max: ptrF(1), def: 0.5},
	"min_compaction_lag_ms":          {kind: "integer", def: int64(0)},
	"min_insync_replicas":            {kind: "integer", min: ptrF(1), def: int64(1)},
	"preallocate":                    {kind: "boolean", def: false},
	"retention_bytes":                {kind: "integer", def: int64(-1)},
	"retention_ms":                   {kind: "integer", def: int64(604800000)},
	"segment_bytes":                  {kind: "integer", min: ptrF(14), def: int64(209715200)},
	"segment_jitter_ms":              {kind: "integer", def: int64(0)},
	"segment_ms":                     {kind: "integer", min: ptrF(1), def: int64(604800000)},
}

// Spec kafka_topic_config.message_format_version enum.
var dbTopicMessageFormats = []string{"0.8.0", "0.8.1", "0.8.2", "0.9.0", "0.10.0-IV0", "0.10.0-IV1", "0.10.1-IV0", "0.10.1-IV1", "0.10.1-IV2", "0.10.2-IV0", "0.11.0-IV0", "0.11.0-IV1", "0.11.0-IV2", "1.0-IV0", "1.1-IV0", "2.0-IV0", "2.0-IV1", "2.1-IV0", "2.1-IV1", "2.1-IV2", "2.2-IV0", "2.2-IV1", "2.3-IV0", "2.3-IV1", "2.4-IV0", "2.4-IV1", "2.5-IV0", "2.6-IV0", "2.7-IV0", "2.7-IV1", "2.7-IV2", "2.8-IV0", "2.8-IV1", "3.0-IV0", "3.0-IV1", "3.1-IV0", "3.2-IV0", "3.3-IV0", "3.3-IV1", "3.3-IV2", "3.3-IV3"}

func (t *dbTopic) render() map[string]any {
	partitions := make([]map[string]any, t.PartitionCount)
	for i := range partitions {
		// Spec kafka_topic_partition: id, size, in_sync_replicas, earliest_offset, consumer_groups (nullable).
		partitions[i] = map[string]any{"id": i, "size": 0, "in_sync_replicas": t.ReplicationFactor, "earliest_offset": 0, "consumer_groups": nil}
	}
	config := map[string]any{}
	for k, spec := range dbTopicConfigKeys {
		config[k] = spec.def
	}
	for k, v := range t.Config {
		config[k] = v
	}
	// Spec kafka_topic_verbose: name, state, replication_factor, partitions, config.
	return map[string]any{"name": t.Name, "state": "active", "replication_factor": t.ReplicationFactor, "partitions": partitions, "config": config}
}

func (cl *dbCluster) topic(name string) *dbTopic {
	for _, t := range cl.topics {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// topicCluster finds the cluster for a topics route, answering 404 or 422.
func (s *databaseStore) topicCluster(c *call) (*dbCluster, bool) {
	cl, ok := s.cluster(c)
	if !ok {
		return nil, false
	}
	// The topics routes are under "Kafka topics" in DigitalOcean's API reference: they serve Kafka clusters only.
	if cl.Engine.Slug != "kafka" {
		c.unprocessable("topics exist on Kafka clusters only; %s is a %s cluster", cl.Name, cl.Engine.Name)
		return nil, false
	}
	return cl, true
}

func (s *databaseStore) listTopics(c *call) {
	cl, ok := s.topicCluster(c)
	if !ok {
		return
	}
	out := make([]map[string]any, 0, len(cl.topics))
	for _, t := range cl.topics {
		// Spec responses/kafka_topics: the short form (kafka_topic: name, state, replication_factor, partition_count).
		out = append(out, map[string]any{"name": t.Name, "state": "active", "replication_factor": t.ReplicationFactor, "partition_count": t.PartitionCount})
	}
	c.respond(http.StatusOK, map[string]any{"topics": out})
}

// findTopic finds the topic the path names on its Kafka cluster; when
// there is none it has answered (404, or the cluster's refusal).
func (s *databaseStore) findTopic(c *call) (*dbCluster, *dbTopic, bool) {
	cl, ok := s.topicCluster(c)
	if !ok {
		return nil, nil, false
	}
	t := cl.topic(c.param("topic_name"))
	if t == nil {
		c.notFound()
		return nil, nil, false
	}
	return cl, t, true
}

func (s *databaseStore) getTopic(c *call) {
	_, t, ok := s.findTopic(c)
	if !ok {
		return
	}
	c.respond(http.StatusOK, map[string]any{"topic": t.render()})
}

type dbTopicRequest struct {
	Name              string                     `json:"name"`
	PartitionCount    *int                       `json:"partition_count"`
	ReplicationFactor *int                       `json:"replication_factor"`
	Config            map[string]json.RawMessage `json:"config"`
}

// validTopicCounts checks a partition count and replication factor against
// the limits and the cluster's node count, answering 422 itself.
func validTopicCounts(c *call, cl *dbCluster, partitions, replication int) bool {
	if partitions < dbTopicMinPartitions || partitions > dbTopicMaxPartitions {
		c.unprocessable("partition_count %d is out of range: use %d to %d", partitions, dbTopicMinPartitions, dbTopicMaxPartitions)
		return false
	}
	// Kafka places each replica of a partition on a different broker: the replication factor cannot exceed the cluster's nodes.
	if replication < dbTopicMinReplication || replication > cl.NumNodes {
		c.unprocessable("replication_factor %d is out of range for cluster %s: use %d to %d (its node count)", replication, cl.Name, dbTopicMinReplication, cl.NumNodes)
		return false
	}
	return true
}

// decodeTopicConfig checks each key and value against kafka_topic_config.
func decodeTopicConfig(c *call, raw map[string]json.RawMessage) (map[string]any, bool) {
	out := map[string]any{}
	for _, k := range slices.Sorted(mapKeys(raw)) {
		spec, known := dbTopicConfigKeys[k]
		if !known {
			c.unprocessable("config.%s is not a topic setting; settings: %s", k, strings.Join(slices.Sorted(mapKeys(dbTopicConfigKeys)), ", "))
			return nil, false
		}
		v, ok := decodeTopicValue(raw[k], spec)
		if !ok {
			want := spec.kind
			if spec.enum != nil {
				want = "one of " + strings.Join(spec.enum, ", ")
			}
			if spec.min != nil || spec.max != nil {
				want += " within " + topicBounds(spec)
			}
			c.unprocessable("config.%s %s is not valid: want %s", k, string(raw[k]), want)
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

func topicBounds(spec dbTopicConfigKey) string {
	lo, hi := "-inf", "+inf"
	if spec.min != nil {
		lo = strconv.FormatFloat(*spec.min, 'g', -1, 64)
	}
	if spec.max != nil {
		hi = strconv.FormatFloat(*spec.max, 'g', -1, 64)
	}
	return "[" + lo + ", " + hi + "]"
}

func decodeTopicValue(raw json.RawMessage, spec dbTopicConfigKey) (any, bool) {
	inBounds := func(f float64) bool {
		return (spec.min == nil || f >= *spec.min) && (spec.max == nil || f <= *spec.max)
	}
	switch spec.kind {
	case "string":
		var s string
		if json.Unmarshal(raw, &s) != nil || (spec.enum != nil && !slices.Contains(spec.enum, s)) {
			return nil, false
		}
		return s, true
	case "boolean":
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, false
		}
		return b, true
	case "integer":
		var n int64
		if json.Unmarshal(raw, &n) != nil {
			// Large defaults such as flush_ms (2^63-1) travel as unsigned in godo.
			var u uint64
			if json.Unmarshal(raw, &u) != nil || u > math.MaxInt64 {
				return nil, false
			}
			n = int64(u)
		}
		return n, inBounds(float64(n))
	default:
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			return nil, false
		}
		return f, inBounds(f)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (s *databaseStore) createTopic(c *call) {
	cl, ok := s.topicCluster(c)
	if !ok {
		return
	}
	var req dbTopicRequest
	if !c.decode(&req) {
		return
	}
	if !dbRequireReady(c, cl, "adding topics") {
		return
	}
	// Spec databases_create_kafka_topic: name is required.
	switch {
	case req.Name == "":
		c.unprocessable("name is required")
		return
	case !dbTopicNamePattern.MatchString(req.Name) || req.Name == "." || req.Name == "..":
		c.unprocessable("name %q is invalid: use 1 to 249 letters, digits, dots, underscores and dashes (not \".\" or \"..\")", req.Name)
		return
	case cl.topic(req.Name) != nil:
		c.unprocessable("topic %q already exists in cluster %s", req.Name, cl.Name)
		return
	}
	t := &dbTopic{Name: req.Name, PartitionCount: dbTopicDefaultPartitions, ReplicationFactor: dbTopicDefaultReplication}
	if req.PartitionCount != nil {
		t.PartitionCount = *req.PartitionCount
	}
	if req.ReplicationFactor != nil {
		t.ReplicationFactor = *req.ReplicationFactor
	}
	if !validTopicCounts(c, cl, t.PartitionCount, t.ReplicationFactor) {
		return
	}
	config, ok := decodeTopicConfig(c, req.Config)
	if !ok {
		return
	}
	t.Config = config
	cl.topics = append(cl.topics, t)
	sort.Slice(cl.topics, func(i, j int) bool { return cl.topics[i].Name < cl.topics[j].Name })
	// Spec databases_create_kafka_topic: 201 with the topic.
	c.respond(http.StatusCreated, map[string]any{"topic": t.render()})
}

func (s *databaseStore) updateTopic(c *call) {
	cl, t, ok := s.findTopic(c)
	if !ok {
		return
	}
	var req dbTopicRequest
	if !c.decode(&req) {
		return
	}
	if !dbRequireReady(c, cl, "updating topics") {
		return
	}
	partitions, replication := t.PartitionCount, t.ReplicationFactor
	if req.PartitionCount != nil {
		// Spec kafka_topic_base.partition_count: "On update, this value can only be increased."
		if *req.PartitionCount < t.PartitionCount {
			c.unprocessable("partition_count of topic %q can only be increased: it has %d partitions, %d was asked; create a new topic to have fewer", t.Name, t.PartitionCount, *req.PartitionCount)
			return
		}
		partitions = *req.PartitionCount
	}
	if req.ReplicationFactor != nil {
		replication = *req.ReplicationFactor
	}
	if !validTopicCounts(c, cl, partitions, replication) {
		return
	}
	config, ok := decodeTopicConfig(c, req.Config)
	if !ok {
		return
	}
	t.PartitionCount, t.ReplicationFactor = partitions, replication
	// Settings named in the update change; the others keep their values (Kafka's incremental alter-configs).
	for k, v := range config {
		t.Config[k] = v
	}
	// Spec databases_update_kafka_topic: 200 with the topic.
	c.respond(http.StatusOK, map[string]any{"topic": t.render()})
}

func (s *databaseStore) deleteTopic(c *call) {
	cl, t, ok := s.findTopic(c)
	if !ok {
		return
	}
	cl.topics = slices.DeleteFunc(cl.topics, func(x *dbTopic) bool { return x == t })
	// Spec databases_delete_kafka_topic: 204.
	c.noContent()
}
