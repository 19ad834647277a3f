// Package admin is the server's AdminServer: upstream ZooKeeper's HTTP
// commands (JettyAdminServer and Commands.java) at
// http://<admin.serverAddress>:<admin.serverPort><admin.commandURL>/<name>,
// each answering a JSON object with upstream 3.8's keys plus "command" and
// "error". Commands answers the commands tools use: ruok, monitor (mntr),
// stats (stat), server_stats (srvr), leader, configuration (conf),
// connections (cons), watch_summary (wchs), is_read_only (isro), dirs and
// environment (envi), under their names and upstream's aliases. An unknown
// command gets upstream's answer, {"command": name, "error": "Unknown
// command: name"}, with status 200.
//
// A differential test (server/admin_test.go) starts Java 3.8's AdminServer
// and compares, per command, the keys of both answers.
package admin
