package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// tourDatabases calls every Managed Databases route successfully at least
// once (plus a few rejected calls, to check the error shape) and leaves
// nothing behind.
func tourDatabases(t *testing.T, c *godo.Client, srv *Server) {
	if _, _, err := c.Databases.ListOptions(ctx); err != nil {
		t.Fatal(err)
	}

	req := dbRequest("tour-pg", "pg")
	req.NumNodes, req.SizeSlug, req.Tags = 2, "db-s-1vcpu-2gb", []string{"tour"}
	req.Rules = []*godo.DatabaseCreateFirewallRule{{Type: "ip_addr", Value: "203.0.113.0/24"}}
	pg := createDB(t, c, req)
	bad := dbRequest("tour-bad", "kafka")
	bad.NumNodes = 1
	_, _, err := c.Databases.Create(ctx, bad)
	wantStatus(t, err, http.StatusUnprocessableEntity)

	r, _ := c.NewRequest(ctx, http.MethodGet, "/v2/databases?tag_name=tour", nil)
	if _, err := c.Do(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.List(ctx, &godo.ListOptions{PerPage: 10}); err != nil {
		t.Fatal(err)
	}
	waitDBStatus(t, c, pg.ID, "online")
	if _, _, err := c.Databases.GetCA(ctx, pg.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.UpdateMaintenance(ctx, pg.ID, &godo.DatabaseUpdateMaintenanceRequest{Day: "sunday", Hour: "03:00"}); err != nil {
		t.Fatal(err)
	}

	// Firewall. godo's update request echoes read-only fields (cluster_uuid,
	// created_at) the spec forbids in requests, so the PUT is sent by hand.
	rules, _, err := c.Databases.GetFirewallRules(ctx, pg.ID)
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules %v %+v", err, rules)
	}
	putRules := func(rules ...map[string]string) error {
		r, _ := c.NewRequest(ctx, http.MethodPut, "/v2/databases/"+pg.ID+"/firewall", map[string]any{"rules": rules})
		_, err := c.Do(ctx, r, nil)
		return err
	}
	if err := putRules(
		map[string]string{"uuid": rules[0].UUID, "type": "ip_addr", "value": "203.0.113.0/24"},
		map[string]string{"type": "tag", "value": "tour"},
	); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, putRules(map[string]string{"type": "vpc", "value": "x"}), http.StatusUnprocessableEntity)

	// Users.
	allow := true
	if _, _, err := c.Databases.CreateUser(ctx, pg.ID, &godo.DatabaseCreateUserRequest{Name: "tour-user"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.ListUsers(ctx, pg.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.GetUser(ctx, pg.ID, "tour-user"); err != nil {
		t.Fatal(err)
	}
	r, _ = c.NewRequest(ctx, http.MethodPut, "/v2/databases/"+pg.ID+"/users/tour-user", map[string]any{"settings": map[string]any{"pg_allow_replication": allow}})
	if _, err := c.Do(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.ResetUserAuth(ctx, pg.ID, "tour-user", &godo.DatabaseResetUserAuthRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Databases.DeleteUser(ctx, pg.ID, "doadmin")
	wantStatus(t, err, http.StatusUnprocessableEntity)

	// Databases and pools.
	if _, _, err := c.Databases.CreateDB(ctx, pg.ID, &godo.DatabaseCreateDBRequest{Name: "tour-db"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.ListDBs(ctx, pg.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.GetDB(ctx, pg.ID, "tour-db"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.CreatePool(ctx, pg.ID, &godo.DatabaseCreatePoolRequest{Name: "tour-pool", Mode: "transaction", Size: 10, Database: "tour-db", User: "tour-user"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.CreatePool(ctx, pg.ID, &godo.DatabaseCreatePoolRequest{Name: "tour-huge", Mode: "transaction", Size: 1000, Database: "tour-db"})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, _, err := c.Databases.ListPools(ctx, pg.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.GetPool(ctx, pg.ID, "tour-pool"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.UpdatePool(ctx, pg.ID, "tour-pool", &godo.DatabaseUpdatePoolRequest{Mode: "session", Size: 12, Database: "tour-db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.DeletePool(ctx, pg.ID, "tour-pool"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.DeleteDB(ctx, pg.ID, "tour-db"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.DeleteUser(ctx, pg.ID, "tour-user"); err != nil {
		t.Fatal(err)
	}

	// Resize.
	if _, err := c.Databases.Resize(ctx, pg.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 2}); err != nil {
		t.Fatal(err)
	}
	waitDBStatus(t, c, pg.ID, "online")

	// Replicas: one promoted, one deleted.
	if _, _, err := c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "tour-replica", Size: "db-s-2vcpu-4gb", Region: "nyc3"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.CreateReplica(ctx, pg.ID, &godo.DatabaseCreateReplicaRequest{Name: "tour-replica-2", Size: "db-s-2vcpu-4gb"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.ListReplicas(ctx, pg.ID, nil); err != nil {
		t.Fatal(err)
	}
	promoted := waitReplicaStatus(t, c, pg.ID, "tour-replica", "online")
	if _, err := c.Databases.PromoteReplicaToPrimary(ctx, pg.ID, "tour-replica"); err != nil {
		t.Fatal(err)
	}
	// Promotion completes asynchronously (Realism.Promotion).
	waitDBVisible(t, c, promoted.ID)
	// A replica resized and tagged in place through its uuid.
	second := waitReplicaStatus(t, c, pg.ID, "tour-replica-2", "online")
	_, err = c.Databases.Resize(ctx, second.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-4vcpu-8gb", NumNodes: 2})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, err := c.Databases.Resize(ctx, second.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-4vcpu-8gb", NumNodes: 1}); err != nil {
		t.Fatal(err)
	}
	if got := waitReplicaStatus(t, c, pg.ID, "tour-replica-2", "online"); got.Size != "db-s-4vcpu-8gb" {
		t.Fatalf("replica after resize: %+v", got)
	}
	if _, err := c.Tags.TagResources(ctx, "tour", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: second.ID, Type: godo.DatabaseResourceType}}}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Databases.GetReplica(ctx, pg.ID, "tour-replica-2"); err != nil || len(got.Tags) != 1 || got.Tags[0] != "tour" {
		t.Fatalf("replica tags after tagging: %v %+v", err, got)
	}
	if _, err := c.Databases.DeleteReplica(ctx, pg.ID, "tour-replica-2"); err != nil {
		t.Fatal(err)
	}

	// Backups and a restore from them (the replicas above exist, so the first backup does).
	backups, _, err := c.Databases.ListBackups(ctx, pg.ID, nil)
	if err != nil || len(backups) == 0 || backups[0].CreatedAt.IsZero() {
		t.Fatalf("backups: %v %+v", err, backups)
	}
	restoreReq := dbRequest("tour-restored", "pg")
	restoreReq.BackupRestore = &godo.DatabaseBackupRestore{DatabaseName: "tour-pg", BackupCreatedAt: backups[0].CreatedAt.Format(time.RFC3339)}
	restored := createVisibleDB(t, c, restoreReq)
	restoreReq.Name, restoreReq.BackupRestore = "tour-restored-2", &godo.DatabaseBackupRestore{DatabaseName: "tour-nowhere"}
	_, _, err = c.Databases.Create(ctx, restoreReq)
	wantStatus(t, err, http.StatusNotFound)
	if _, err := c.Databases.Delete(ctx, restored.ID); err != nil {
		t.Fatal(err)
	}

	// Storage autoscaling (pg: storage can be added; valkey: refused below).
	if got, _, err := c.Databases.GetStorageAutoscale(ctx, pg.ID); err != nil || got == nil || got.Enabled {
		t.Fatalf("autoscale before any PUT: %v %+v", err, got)
	}
	threshold, increment := 75, uint64(20)
	if _, err := c.Databases.UpdateStorageAutoscale(ctx, pg.ID, &godo.DatabaseStorageAutoscale{Enabled: true, ThresholdPercent: &threshold, IncrementGib: &increment}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Databases.GetStorageAutoscale(ctx, pg.ID); err != nil || got == nil || !got.Enabled || got.ThresholdPercent == nil || *got.ThresholdPercent != 75 || got.IncrementGib == nil || *got.IncrementGib != 20 {
		t.Fatalf("autoscale after PUT: %v %+v", err, got)
	}
	if got, _, err := c.Databases.Get(ctx, pg.ID); err != nil {
		t.Fatal(err)
	} else if got.StorageAutoscale != nil {
		// godo reads the cluster's "storage_autoscale"; the spec's field is "autoscale".
		t.Fatalf("cluster carries godo's storage_autoscale key: %+v", got.StorageAutoscale)
	}
	tooLow := 10
	_, err = c.Databases.UpdateStorageAutoscale(ctx, pg.ID, &godo.DatabaseStorageAutoscale{Enabled: true, ThresholdPercent: &tooLow})
	wantStatus(t, err, http.StatusUnprocessableEntity)

	// Valkey: eviction policy.
	vk := createVisibleDB(t, c, dbRequest("tour-valkey", "valkey"))
	_, _, err = c.Databases.GetStorageAutoscale(ctx, vk.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, _, err := c.Databases.GetEvictionPolicy(ctx, vk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.SetEvictionPolicy(ctx, vk.ID, godo.EvictionPolicyAllKeysLRU); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Databases.GetEvictionPolicy(ctx, pg.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity)

	// Kafka: topics (create, list, get, update, delete) and a user's ACLs.
	kf := createVisibleDB(t, c, dbRequest("tour-kafka", "kafka"))
	waitDBStatus(t, c, kf.ID, "online")
	retention := int64(3600000)
	if _, _, err := c.Databases.CreateTopic(ctx, kf.ID, &godo.DatabaseCreateTopicRequest{Name: "tour-topic", PartitionCount: u32(3), ReplicationFactor: u32(2), Config: &godo.TopicConfig{RetentionMS: &retention}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.ListTopics(ctx, kf.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Databases.UpdateTopic(ctx, kf.ID, "tour-topic", &godo.DatabaseUpdateTopicRequest{PartitionCount: u32(4)}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Databases.GetTopic(ctx, kf.ID, "tour-topic"); err != nil || len(got.Partitions) != 4 {
		t.Fatalf("topic after update: %v %+v", err, got)
	}
	_, err = c.Databases.UpdateTopic(ctx, kf.ID, "tour-topic", &godo.DatabaseUpdateTopicRequest{PartitionCount: u32(3)})
	wantStatus(t, err, http.StatusUnprocessableEntity)
	if _, _, err := c.Databases.CreateUser(ctx, kf.ID, &godo.DatabaseCreateUserRequest{Name: "tour-producer", Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{{Topic: "tour-*", Permission: "produce"}}}}); err != nil {
		t.Fatal(err)
	}
	if u, _, err := c.Databases.UpdateUser(ctx, kf.ID, "tour-producer", &godo.DatabaseUpdateUserRequest{Settings: &godo.DatabaseUserSettings{ACL: []*godo.KafkaACL{{Topic: "tour-topic", Permission: "produceconsume"}}}}); err != nil || u.Settings == nil || len(u.Settings.ACL) != 1 || u.Settings.ACL[0].ID == "" {
		t.Fatalf("user ACLs after update: %v %+v", err, u)
	}
	if _, err := c.Databases.DeleteTopic(ctx, kf.ID, "tour-topic"); err != nil {
		t.Fatal(err)
	}

	// Kubernetes firewall rule: needs a live cluster.
	k8s, _, err := c.Kubernetes.Create(ctx, &godo.KubernetesClusterCreateRequest{
		Name: "tour-db-k8s", RegionSlug: "nyc3", VersionSlug: "latest",
		NodePools: []*godo.KubernetesNodePoolCreateRequest{{Name: "p", Size: "s-2vcpu-4gb", Count: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := putRules(map[string]string{"type": "k8s", "value": k8s.ID}); err != nil {
		t.Fatal(err)
	}
	if rules, _, err := c.Databases.GetFirewallRules(ctx, pg.ID); err != nil || len(rules) != 1 || rules[0].Value != k8s.ID {
		t.Fatalf("k8s rule: %v %+v", err, rules)
	}
	if _, err := c.Kubernetes.Delete(ctx, k8s.ID); err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{pg.ID, promoted.ID, vk.ID, kf.ID} {
		if _, err := c.Databases.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = c.Databases.Get(ctx, pg.ID)
	wantStatus(t, err, http.StatusNotFound)
	eventually(t, "tour databases and cluster gone", func() bool {
		for _, it := range srv.Inventory().Items {
			if strings.HasPrefix(it.Kind, "database_") || it.ID == k8s.ID || it.Parent == k8s.ID {
				return false
			}
		}
		return true
	})
}
