package emulator

import (
	"net/http"
	"testing"

	"github.com/digitalocean/godo"
)

func u32(n uint32) *uint32 { return &n }

func TestDatabaseKafkaTopics(t *testing.T) {
	srv, c := startTest(t, Config{})
	kf := createVisibleDB(t, c, dbRequest("stream", "kafka"))
	waitDBStatus(t, c, kf.ID, "online")

	// Defaults: 3 partitions, replication 2, the spec's config defaults.
	if _, _, err := c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "plain"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.Databases.GetTopic(ctx, kf.ID, "plain")
	if err != nil || len(got.Partitions) != 3 || got.ReplicationFactor == nil || *got.ReplicationFactor != 2 || got.State != "active" {
		t.Fatalf("defaults: %v %+v", err, got)
	}
	if got.Config == nil || got.Config.CleanupPolicy != "delete" || got.Config.RetentionMS == nil || *got.Config.RetentionMS != 604800000 {
		t.Fatalf("default config: %+v", got.Config)
	}
	if srv.Inventory().Count("database_topic") != 1 {
		t.Fatalf("topic missing from the inventory: %s", srv.Inventory())
	}

	// Set values come back; others keep their defaults.
	retention := int64(3600000)
	req := &godo.DatabaseCreateTopicRequest{Name: "events", PartitionCount: u32(6), ReplicationFactor: u32(3), Config: &godo.TopicConfig{CleanupPolicy: "compact", RetentionMS: &retention}}
	if _, _, err := c.Databases.CreateTopic(ctx, kf.ID, req); err != nil {
		t.Fatal(err)
	}
	got, _, _ = c.Databases.GetTopic(ctx, kf.ID, "events")
	if len(got.Partitions) != 6 || *got.ReplicationFactor != 3 || got.Config.CleanupPolicy != "compact" || *got.Config.RetentionMS != 3600000 || got.Config.CompressionType != "producer" {
		t.Fatalf("created: %+v %+v", got, got.Config)
	}
	list, _, err := c.Databases.ListTopics(ctx, kf.ID, nil)
	if err != nil || len(list) != 2 || list[0].Name != "events" {
		t.Fatalf("list: %v %+v", err, list)
	}

	// Update: partitions grow, replication changes, config keys merge.
	if _, err := c.Databases.UpdateTopic(ctx, kf.ID, "events", &godo.DatabaseUpdateTopicRequest{PartitionCount: u32(8), ReplicationFactor: u32(2), Config: &godo.TopicConfig{CompressionType: "zstd"}}); err != nil {
		t.Fatal(err)
	}
	got, _, _ = c.Databases.GetTopic(ctx, kf.ID, "events")
	if len(got.Partitions) != 8 || *got.ReplicationFactor != 2 || got.Config.CompressionType != "zstd" || got.Config.CleanupPolicy != "compact" {
		t.Fatalf("updated: %+v %+v", got, got.Config)
	}

	// Refusals, each naming what is wrong.
	_, err = c.Databases.UpdateTopic(ctx, kf.ID, "events", &godo.DatabaseUpdateTopicRequest{PartitionCount: u32(4)})
	wantDBError(t, err, http.StatusUnprocessableEntity, "can only be increased", "events")
	_, _, err = c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "wide", ReplicationFactor: u32(4)})
	wantDBError(t, err, http.StatusUnprocessableEntity, "replication_factor 4", "node count")
	_, _, err = c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "few", PartitionCount: u32(2)})
	wantDBError(t, err, http.StatusUnprocessableEntity, "partition_count 2")
	_, _, err = c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "bad name"})
	wantDBError(t, err, http.StatusUnprocessableEntity, `"bad name"`)
	_, _, err = c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "events"})
	wantDBError(t, err, http.StatusUnprocessableEntity, "already exists")
	_, _, err = c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "x", Config: &godo.TopicConfig{CleanupPolicy: "forever"}})
	wantDBError(t, err, http.StatusUnprocessableEntity, "config.cleanup_policy", "compact_delete")
	ratio := float32(1.5)
	_, _, err = c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "x", Config: &godo.TopicConfig{MinCleanableDirtyRatio: &ratio}})
	wantDBError(t, err, http.StatusUnprocessableEntity, "config.min_cleanable_dirty_ratio", "[0, 1]")
	if code, e := rawPost(t, srv, "/v2/databases/"+kf.ID+"/topics", `{"name":"x","config":{"retention_hours":1}}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("unknown config key: %d %+v", code, e)
	}
	if code, e := rawPost(t, srv, "/v2/databases/"+kf.ID+"/topics", `{"partition_count":3}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("missing name: %d %+v", code, e)
	}

	// Delete; gone afterwards.
	if _, err := c.Databases.DeleteTopic(ctx, kf.ID, "events"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.GetTopic(ctx, kf.ID, "events")
	wantStatus(t, err, http.StatusNotFound)
	_, err = c.Databases.DeleteTopic(ctx, kf.ID, "events")
	wantStatus(t, err, http.StatusNotFound)

	// Other engines have no topics.
	pg := createVisibleDB(t, c, dbRequest("rel", "pg"))
	_, err = c.Databases.DeleteTopic(ctx, pg.ID, "events")
	wantDBError(t, err, http.StatusUnprocessableEntity, "Kafka")
}
