import Foundation
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// The operator console in a real browser: a real hub and stores, Debian's chromium and
/// chromium-driver through Selenium (`Tests/browser/console_browser.py`, in the virtual
/// environment `Scripts/test.sh` makes). Screenshots go to `.build/test-output/console-browser/`.
@Suite("Operator console in a browser", .serialized)
struct ConsoleBrowserTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    @Test("a viewer sees the stopped store on top and the backlog the stores report, cannot revoke; an operator revokes and the store's next sync is refused")
    func viewerAndOperator() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub(extraArguments: ["--not-seen-after", "30"])
        for (id, site, series) in [("A", "WAW", "K1"), ("B", "KRK", "K2"), ("C", "GDA", "K3")] {
            try cluster.addNode(id, site: site, series: series)
        }
        let password = cluster.dir.file("console-password")
        try "a long console password\n".write(toFile: password, atomically: true, encoding: .utf8)
        ok(try cluster.poshub(["operator", "add"], ["--name", "vera", "--role", "viewer", "--password-file", password]), "viewer")
        ok(try cluster.poshub(["operator", "add"], ["--name", "otto", "--role", "operator", "--password-file", password]), "operator")
        let short = cluster.dir.file("short")
        try "short\n".write(toFile: short, atomically: true, encoding: .utf8)
        let refused = try cluster.poshub(["operator", "add"], ["--name", "weak", "--role", "viewer", "--password-file", short])
        #expect(!refused.succeeded && refused.stderr.contains("12 characters"), "\(refused.stderr)")

        // A syncs once, then its till is switched off.
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Ala", "--last-name", "Nowak"]), "A partner")
        ok(try cluster.posnode("A", ["sync"]), "sync A")
        try await Task.sleep(for: .seconds(31))
        // B is on a slow link: it sends 10 of its 30 new entries a round.
        for i in 0..<30 {
            ok(try cluster.posnode("B", ["partner", "add", "--offline", "--code", "B\(i)", "--kind", "consumer", "--first-name", "Jan", "--last-name", "Kowalski\(i)"]), "B partner")
        }
        ok(try cluster.posnode("B", ["sync", "--max-entries", "10"]), "sync B")
        let statusB = try cluster.posnode("B", ["status", "--json"])
        let pendingB = ((try? JSONSerialization.jsonObject(with: Data(statusB.stdout.utf8))) as? [String: Any])?["pending"] as? Int
        #expect(pendingB == 20, "\(statusB.stdout)")
        ok(try cluster.posnode("C", ["sync"]), "sync C")

        let out = PackageRoot.path + "/.build/test-output/console-browser"
        try? FileManager.default.removeItem(atPath: out)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let plan: [String: Any] = ["url": cluster.hubURL, "viewer": ["vera", "a long console password"], "operator": ["otto", "a long console password"],
                                   "stopped": "A", "backlog": ["B": pendingB ?? 20], "revoke": "C", "out": out]
        let planFile = cluster.dir.file("plan.json")
        try JSONSerialization.data(withJSONObject: plan).write(to: URL(fileURLWithPath: planFile))
        // Off the cooperative threads: the browser takes a while, and a blocking wait there
        // starves other suites' tasks.
        let browser = try await offload { try runCommand(MailSink.python, [PackageRoot.path + "/Tests/browser/console_browser.py", planFile]) }
        #expect(browser.succeeded, "browser: \(browser.stdout)\(browser.stderr)")
        let shots = (try? FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }) ?? []
        #expect(shots.count >= 7, "\(shots)")

        // The revoked store's next sync is refused.
        let next = try cluster.posnode("C", ["sync"])
        #expect(!next.succeeded && next.stderr.contains("revoked"), "\(next.stdout)\(next.stderr)")
        // The same figures without the page: poshub node status.
        let status = try cluster.poshub(["node", "status"], ["--not-seen-after", "3600", "--json"])
        let rows = (try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8))) as? [[String: Any]] ?? []
        #expect(rows.first { $0["node"] as? String == "B" }?["pending_entries"] as? Int == 20, "\(status.stdout)")
        #expect(rows.first { $0["node"] as? String == "C" }?["state"] as? String == "revoked")
    }
}
