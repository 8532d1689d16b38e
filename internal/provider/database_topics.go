package provider

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/attach-labs/terraform-provider-attach/internal/stack"
)

// databases.<k>.topics: Kafka topics (engine in
// internal/stack/database_topics.go).

// Apache Kafka's topic names: letters, digits, '.', '_' and '-', at most 249.
var topicNamePattern = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

type topicModel struct {
	Partitions        types.Int64             `tfsdk:"partitions"`
	ReplicationFactor types.Int64             `tfsdk:"replication_factor"`
	Config            map[string]types.String `tfsdk:"config"`
}

func topicsAttribute() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		Optional: true,
		MarkdownDescription: "Kafka topics, by name (kafka only): created, grown and changed in place. A topic deleted or " +
			"changed outside Terraform shows as drift and the next apply repairs it. Removing a topic deletes it and its " +
			"messages: refused while `deletion_protection` is on.",
		Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(topicNamePattern,
			"must be 1-249 letters, digits, dots, underscores and dashes"),
			// Kafka reserves these two names (its topic name rules).
			stringvalidator.NoneOf(".", ".."))},
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"partitions": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(stack.TopicDefaultPartitions),
				MarkdownDescription: fmt.Sprintf("Partition count (%d-%d). Default `%d`. Can only grow: Kafka cannot remove partitions, so "+
					"to have fewer, create a topic under a new name.", stack.TopicMinPartitions, stack.TopicMaxPartitions, stack.TopicDefaultPartitions),
				Validators: []validator.Int64{int64validator.Between(stack.TopicMinPartitions, stack.TopicMaxPartitions)},
			},
			"replication_factor": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(stack.TopicDefaultReplication),
				MarkdownDescription: fmt.Sprintf("Copies of each partition, on different nodes (%d up to the database's `node_count`). "+
					"Default `%d`. Changed in place.", stack.TopicMinReplication, stack.TopicDefaultReplication),
				Validators: []validator.Int64{int64validator.AtLeast(stack.TopicMinReplication)},
			},
			"config": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Topic settings of DigitalOcean's `kafka_topic_config` (`cleanup_policy`, `retention_ms`, " +
					"`retention_bytes`, `max_message_bytes`, `min_insync_replicas`, ...), values as strings. Only the settings " +
					"named here are managed; removing one leaves its current value.",
			},
		}},
	}
}

func topicsSpec(m map[string]*topicModel) map[string]stack.TopicSpec {
	if len(m) == 0 {
		return nil
	}
	out := map[string]stack.TopicSpec{}
	for name, t := range m {
		if t == nil {
			continue
		}
		s := stack.TopicSpec{Partitions: int(t.Partitions.ValueInt64()), ReplicationFactor: int(t.ReplicationFactor.ValueInt64())}
		if len(t.Config) > 0 {
			s.Config = map[string]string{}
			for k, v := range t.Config {
				// A null value sets nothing (as in databases.<k>.config).
				if !v.IsNull() {
					s.Config[k] = v.ValueString()
				}
			}
		}
		out[name] = s
	}
	return out
}

// observeTopics replaces the configured topics with what DigitalOcean
// reports; a topic gone is dropped, a setting reading the same value in
// another form ("0.50", "0.5") keeps the configuration's.
func observeTopics(prior map[string]*topicModel, observed map[string]stack.TopicSpec) map[string]*topicModel {
	if prior == nil {
		return nil
	}
	out := map[string]*topicModel{}
	for name, p := range prior {
		got, ok := observed[name]
		if !ok || p == nil {
			continue
		}
		t := *p
		t.Partitions, t.ReplicationFactor = types.Int64Value(int64(got.Partitions)), types.Int64Value(int64(got.ReplicationFactor))
		if p.Config != nil {
			t.Config = map[string]types.String{}
			for k, v := range p.Config {
				have, read := got.Config[k]
				if read && !(known(v) && stack.SameTopicValue(k, v.ValueString(), have)) {
					v = types.StringValue(have)
				}
				t.Config[k] = v
			}
		}
		out[name] = &t
	}
	return out
}

// topicsFeature refuses topics off Kafka, settings DigitalOcean does not
// take, replication beyond the node count, and fewer partitions than a
// topic has.
func (p *planner) topicsFeature(at path.Path, engine string, d, prior *databaseModel) {
	if len(d.Topics) > 0 && engine != "" && engine != "kafka" {
		p.attrError(at.AtName("topics"), "Topics need Kafka",
			fmt.Sprintf("topics applies to kafka only; this database is %s. Remove topics, or use engine = \"kafka\".", engine))
		return
	}
	for _, name := range sortedKeys(d.Topics) {
		t := d.Topics[name]
		if t == nil {
			continue
		}
		tat := at.AtName("topics").AtMapKey(name)
		for _, k := range sortedKeys(t.Config) {
			if v := t.Config[k]; known(v) {
				if _, err := stack.ParseTopicValue(k, v.ValueString()); err != nil {
					p.attrError(tat.AtName("config").AtMapKey(k), "Invalid topic setting", fmt.Sprintf("Topic %s: %v.", name, err))
				}
			}
		}
		if known(t.ReplicationFactor) && known(d.NodeCount) && t.ReplicationFactor.ValueInt64() > d.NodeCount.ValueInt64() {
			p.attrError(tat.AtName("replication_factor"), "Replication factor above the node count",
				fmt.Sprintf("Topic %s asks for %d copies of each partition, but the database has %d nodes and Kafka keeps each copy on a different node. Use at most %d, or raise node_count.",
					name, t.ReplicationFactor.ValueInt64(), d.NodeCount.ValueInt64(), d.NodeCount.ValueInt64()))
		}
		if prior == nil || prior.Topics[name] == nil {
			continue
		}
		if was := prior.Topics[name].Partitions; known(was) && known(t.Partitions) && t.Partitions.ValueInt64() < was.ValueInt64() {
			p.attrError(tat.AtName("partitions"), "Topic partitions can only grow",
				fmt.Sprintf("Topic %s has %d partitions; Kafka cannot remove partitions, so %d cannot be applied. Keep partitions = %d (or more), or create a topic under a new name and move the producers to it.",
					name, was.ValueInt64(), t.Partitions.ValueInt64(), was.ValueInt64()))
		}
	}
}

// protectTopics refuses removing a topic (it deletes its messages) from a
// protected database, as dropping a logical database is.
func (p *planner) protectTopics(at path.Path, key string, prior, planned *databaseModel) {
	for _, name := range sortedKeys(prior.Topics) {
		if _, kept := planned.Topics[name]; !kept {
			p.attrError(at.AtName("topics"), fmt.Sprintf("Deleting topic %q of protected database %q", name, key),
				"Removing a topic from topics deletes it and its messages, and deletion_protection = true forbids it. Set deletion_protection = false first, or keep the topic.")
		}
	}
}
