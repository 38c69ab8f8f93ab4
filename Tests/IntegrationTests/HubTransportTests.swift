import Foundation
import SyncTesting
import Testing

/// The hub's transport as the chain's network meets it: TLS with the chain's own CA, and
/// clients that connect and then send slowly or not at all. Real processes on loopback.
@Suite("Hub transport: TLS, slow clients")
struct HubTransportTests {
    /// A CA and a hub certificate for 127.0.0.1 signed by it, and a second CA that signed nothing
    /// the hub has, made with openssl in `dir`.
    struct Certificates {
        var ca: String, hubCert: String, hubKey: String, otherCA: String

        init(in dir: TemporaryDirectory) throws {
            func openssl(_ args: [String]) throws {
                let r = try runCommand("/usr/bin/env", ["openssl"] + args)
                guard r.succeeded else { throw ClusterError.commandFailed("openssl \(args.joined(separator: " ")): \(r.stderr)") }
            }
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            for name in ["ca", "other-ca"] {
                try openssl(["req", "-x509"] + ec + ["-keyout", dir.file("\(name).key"), "-out", dir.file("\(name).pem"), "-days", "2",
                             "-subj", "/CN=Test \(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            }
            try openssl(["req"] + ec + ["-keyout", dir.file("hub.key"), "-out", dir.file("hub.csr"), "-subj", "/CN=127.0.0.1"])
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                .write(toFile: dir.file("hub.ext"), atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", dir.file("hub.csr"), "-CA", dir.file("ca.pem"), "-CAkey", dir.file("ca.key"),
                         "-CAcreateserial", "-out", dir.file("hub.pem"), "-days", "2", "-extfile", dir.file("hub.ext")])
            ca = dir.file("ca.pem"); hubCert = dir.file("hub.pem"); hubKey = dir.file("hub.key"); otherCA = dir.file("other-ca.pem")
        }
    }

    @Test("nodes sync over TLS with the chain's CA; a node that trusts another CA sends nothing and keeps its entries")
    func tls() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let certs = try Certificates(in: cluster.dir)
        try cluster.startHub(extraArguments: ["--tls-cert", certs.hubCert, "--tls-key", certs.hubKey])
        cluster.hubScheme = "https"
        try cluster.addNode("A", site: "WAW", series: "K1", initArguments: ["--ca-file", certs.ca])
        try cluster.addNode("B", site: "KRK", series: "K2", initArguments: ["--ca-file", certs.otherCA])
        for id in ["A", "B"] {
            #expect(try cluster.posnode(id, ["partner", "add", "--code", "TLS-\(id)", "--kind", "business", "--name", "Firma \(id)"]).succeeded)
        }
        let a = try cluster.posnode("A", ["sync"])
        #expect(a.succeeded, "\(a.stdout) \(a.stderr)")
        let b = try cluster.posnode("B", ["sync"])
        #expect(!b.succeeded)
        #expect(b.stderr.contains("certificate"), "\(b.stderr)")
        let status = try JSONSerialization.jsonObject(with: Data(try cluster.posnode("B", ["status", "--json"]).stdout.utf8)) as? [String: Any]
        #expect(status?["pending"] as? Int == 1, "B's entry waits for a hub it can trust")
        // B trusts the chain's CA from now on and delivers what it kept.
        #expect(try cluster.posnode("B", ["config", "set-hub", "--ca-file", certs.ca]).succeeded)
        let again = try cluster.posnode("B", ["sync"])
        #expect(again.succeeded, "\(again.stderr)")
        #expect(try cluster.posnode("A", ["sync"]).succeeded)
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash())
        #expect(try cluster.nodeStateHash("B") == cluster.hubStateHash())
        #expect(try cluster.posnode("A", ["partner", "show", "--code", "TLS-B"]).succeeded, "B's partner reached A over TLS")

        // Plain HTTP to the TLS port gets no reply the node accepts.
        try cluster.addNode("C", site: "GDA", series: "K3", hubURL: cluster.hubURL.replacingOccurrences(of: "https:", with: "http:"))
        #expect(try cluster.posnode("C", ["partner", "add", "--code", "TLS-C", "--kind", "business", "--name", "Firma C"]).succeeded)
        #expect(try !cluster.posnode("C", ["sync"]).succeeded)
    }

    @Test("a hub beyond loopback without TLS, and unusable TLS or CA files, are refused at start naming the option")
    func refusedConfigurations() throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let poshub = BuiltProducts.path("poshub"), posnode = BuiltProducts.path("posnode")
        // Refused before anything is bound.
        let open = try runCommand(poshub, ["serve", "--db", cluster.hubDB, "--port", "0", "--host", "0.0.0.0"])
        #expect(!open.succeeded && open.stderr.contains("--insecure-plaintext"), "\(open.stderr)")
        let half = try runCommand(poshub, ["serve", "--db", cluster.hubDB, "--port", "0", "--tls-cert", cluster.dir.file("x.pem")])
        #expect(!half.succeeded && half.stderr.contains("--tls-key"), "\(half.stderr)")
        try "not a certificate".write(toFile: cluster.dir.file("bad.pem"), atomically: true, encoding: .utf8)
        let bad = try runCommand(poshub, ["serve", "--db", cluster.hubDB, "--port", "0", "--tls-cert", cluster.dir.file("bad.pem"),
                                          "--tls-key", cluster.dir.file("bad.pem")])
        #expect(!bad.succeeded && bad.stderr.contains("--tls-cert") && bad.stderr.contains("bad.pem"), "\(bad.stderr)")

        let missing = try runCommand(posnode, ["init", "--db", cluster.dir.file("n.sqlite"), "--node", "N", "--site", "S", "--series", "K9",
                                               "--hub", "https://127.0.0.1:1", "--ca-file", cluster.dir.file("missing.pem")])
        #expect(!missing.succeeded && missing.stderr.contains("missing.pem"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cluster.dir.file("n.sqlite")), "nothing was created")
    }

    @Test("clients that send slowly or not at all are closed; bodies held are bounded; a store syncs meanwhile")
    func slowClients() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let bodyLimit = 1_000_000, budget = 2 * (bodyLimit + 4096)
        let hub = try cluster.startHub(extraArguments: [
            "--max-connections", "32", "--idle-timeout", "3", "--request-timeout", "5",
            "--max-compressed-bytes", String(bodyLimit), "--max-receiving-bytes", String(budget),
        ])
        let slow = try cluster.addNode("SLOW", site: "WAW", series: "K1")
        try cluster.addNode("A", site: "KRK", series: "K2")
        #expect(try cluster.posnode("A", ["partner", "add", "--code", "HONEST", "--kind", "business", "--name", "Firma"]).succeeded)

        // Pushes that announce large bodies and send them a byte at a time: two fit the budget,
        // the third is turned away before its body is read.
        var bodies: [RawConnection] = []
        var shed = 0
        for _ in 0..<3 {
            let c = try RawConnection(port: hub.port)
            c.send("POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(slow.token)\r\n"
                   + "Content-Type: application/x-posnode-batch\r\nContent-Length: \(bodyLimit)\r\n\r\nP")
            // (Well within the idle timeout: the bodies have not started to trickle yet.)
            if case .data(let reply) = c.read(timeout: 0.3) {
                #expect(reply.hasPrefix("HTTP/1.1 503") && reply.lowercased().contains("retry-after: 5"), "\(reply)")
                shed += 1
            } else {
                bodies.append(c)
            }
        }
        #expect(shed == 1 && bodies.count == 2, "shed \(shed), receiving \(bodies.count)")
        // On a thread of its own: the test's process commands block the cooperative threads.
        let receiving = bodies, stop = StopFlag()
        Thread.detachNewThread {
            while !stop.isSet {
                for c in receiving { c.send("x") }
                usleep(200_000)
            }
        }
        defer { stop.set() }

        // More half-sent request heads than the hub serves connections at once.
        var heads: [RawConnection] = []
        for _ in 0..<40 {
            let c = try RawConnection(port: hub.port)
            c.send("POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            heads.append(c)
        }
        // The honest store gets through once the silent heads are closed.
        let start = Date()
        let sync = try cluster.posnode("A", ["sync"])
        #expect(sync.succeeded, "\(sync.stdout) \(sync.stderr)")
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash())

        for c in heads { #expect(c.waitForClose(timeout: 7), "a silent request head is closed after the idle timeout") }
        for c in bodies { #expect(c.waitForClose(timeout: 10), "a trickling body is closed after the request timeout") }
        stop.set()

        // A closed request gives its bytes back when its handler sees the connection end, a
        // moment after the client does: read until they are back (at most 5 s).
        var metrics = MetricsText(try await TestHTTP().get("\(hub.baseURL)/metrics").text)
        for _ in 0..<50 where metrics.value("poshub_receiving_bytes") != 0 {
            try await Task.sleep(for: .milliseconds(100))
            metrics = MetricsText(try await TestHTTP().get("\(hub.baseURL)/metrics").text)
        }
        #expect(metrics.value("poshub_push_shed_total") == 1)
        #expect((metrics.value("poshub_slow_requests_closed_total") ?? 0) >= 2)
        #expect((metrics.value("poshub_receiving_bytes_peak") ?? .infinity) <= Double(budget))
        #expect(metrics.value("poshub_receiving_bytes") == 0, "closed requests gave their bytes back")
        #expect(hub.peakResidentKiB() < 256 << 10, "hub memory \(hub.peakResidentKiB()) KiB")
    }
}

@Suite("An idle attacker cannot starve the hub", .serialized)
struct IdleAttackerTests {
    @Test("hundreds of connections that trickle a header byte and reconnect when closed: health answers, a store syncs, the idle ones are closed")
    func idleConnections() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub(extraArguments: ["--max-connections", "64", "--head-timeout", "2", "--idle-timeout", "30"])
        try cluster.addNode("A", site: "WAW", series: "K1")
        #expect(try cluster.posnode("A", ["partner", "add", "--code", "HONEST", "--kind", "business", "--name", "Firma"]).succeeded)

        // 200 connections, each sends a header byte every second and is opened again when closed.
        let idler = IdleClient(port: hub.port, connections: 200)
        idler.start()
        defer { idler.stop() }
        try await Task.sleep(for: .seconds(3))
        #expect(idler.opened >= 200)

        let health = try await TestHTTP().request(.GET, "\(hub.baseURL)/health", timeout: .seconds(10))
        #expect(health.status == 200)
        let sync = try cluster.posnode("A", ["sync"])
        #expect(sync.succeeded, "\(sync.stdout) \(sync.stderr)")
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash())
        let metrics = MetricsText(try await TestHTTP().request(.GET, "\(hub.baseURL)/metrics", timeout: .seconds(10)).text)
        #expect((metrics.value("poshub_unauthenticated_closed_total") ?? 0) > 0)
    }
}

/// Set once, read from another thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
