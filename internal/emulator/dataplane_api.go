package emulator

import "net/http"

// How the API handlers drive the data plane (dataplane.go). Changes that
// clients can observe (users, passwords, databases, pools) are made on the
// server before the API answers, under the emulator's lock and bounded by
// dpOpTimeout, so the API never reports a user who cannot log in yet; if
// the server refuses, the API answers 500 and its state is unchanged.

// dataPlaneEngine reports whether engine slug has a data plane.
func dataPlaneEngine(slug string) bool { return slug == "pg" || slug == "valkey" }

// startDataPlane starts the server behind a new cluster (in the
// background), answering 500 itself when it cannot.
func (s *databaseStore) startDataPlane(c *call, cl *dbCluster) bool {
	if !s.e.cfg.DataPlane || !dataPlaneEngine(cl.Engine.Slug) {
		return true
	}
	var err error
	switch {
	case s.e.dpErr != nil:
		err = s.e.dpErr
	case cl.Engine.Slug == "pg":
		err = s.e.dp.startPostgres(cl, s.accountCA())
	default:
		err = s.e.dp.startValkey(cl, s.accountCA())
	}
	if err != nil {
		dataPlaneFailed(c, err)
		return false
	}
	return true
}

// dataPlaneHolds reports whether cl, due online, must wait for its server
// to accept connections. A server that failed to start fails the cluster:
// it never comes online, as when provisioning fails (TransitionDatabase).
func (s *databaseStore) dataPlaneHolds(cl *dbCluster) bool {
	ready, err, ok := s.e.dp.ready(cl.ID)
	switch {
	case !ok || ready:
		return false
	case err != nil:
		cl.failed = true
		return false
	}
	return true
}

// endpoints are where cl's connection details point: DigitalOcean-shaped
// hosts and the engine's port, or in data-plane mode the loopback address
// and its server's port (every role: there is a single server).
func (s *databaseStore) endpoints(cl *dbCluster) (host, private, standby, standbyPrivate string, port int) {
	if p, ok := s.e.dp.endpoint(cl.ID); ok {
		return dpLoopback, dpLoopback, dpLoopback, dpLoopback, p
	}
	return cl.host, dbPrivateHost(cl.host), dbStandbyHost(cl.host), dbPrivateHost(dbStandbyHost(cl.host)), cl.Engine.Port
}

// poolEndpoints are where pool p's connection details point.
func (s *databaseStore) poolEndpoints(cl *dbCluster, p *dbPool) (host, private, standby, standbyPrivate string, port int) {
	if port, ok := s.e.dp.poolEndpoint(cl.ID, p.Name); ok {
		return dpLoopback, dpLoopback, dpLoopback, dpLoopback, port
	}
	return cl.host, dbPrivateHost(cl.host), dbStandbyHost(cl.host), dbPrivateHost(dbStandbyHost(cl.host)), dbPgBouncerPort
}

// forcedPassword is the password of pool p's fixed user ("" for pools
// whose clients bring their own credentials).
func forcedPassword(cl *dbCluster, p dbPool) string {
	if u := cl.user(p.User); p.User != "" && u != nil {
		return u.Password
	}
	return ""
}

// dataPlaneFailed answers 500 for a change the data plane's server refused.
func dataPlaneFailed(c *call, err error) {
	c.fail(http.StatusInternalServerError, "server_error", "emulator data plane: "+err.Error())
}
