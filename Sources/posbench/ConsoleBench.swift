import Foundation
import SyncConsole
import SyncHub
import SyncTesting

/// The console's stores page of a hub with many stores (docs/console.md), served by a real
/// `poshub serve`, beside the query its figures come from (`HubStore.storeOverview`).
enum ConsoleBench {
    static func row(stores: Int, dir: String, bin: String, log: (String) -> Void) async throws -> BenchRow {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = "\(dir)/hub.sqlite"
        let hub = try HubStore(path: db)
        log("  \(stores) stores…")
        for i in 0..<stores { _ = try hub.addNode(node: "S\(i)", site: "ST\(i)", series: "K\(i)", region: "R\(i % 10)") }
        let activity = NodeActivity()
        for i in 0..<stores where i % 3 != 0 {
            activity.pushed(node: "S\(i)", pending: Int64(i % 7 == 0 ? i : 0), clockOffsetMillis: Int64(i % 5) * 100, refused: Int64(i % 11 == 0 ? 1 : 0), seconds: 0.05)
            activity.pulled(node: "S\(i)", cursor: 0, seconds: 0.02)
        }
        try activity.flush(hub)
        _ = try hub.addOperator(name: "bench")
        try hub.setConsoleLogin(name: "bench", role: "viewer", passwordHash: try ConsolePassword.hash("bench password 123"))
        // The reference: the query alone, in this process.
        var queryTimes: [Double] = []
        for _ in 0..<7 {
            let t = Date()
            _ = try hub.storeOverview(notSeenAfter: 3600)
            queryTimes.append(Date().timeIntervalSince(t))
        }
        try hub.close()
        let server = try ChildProcess(bin + "/poshub", ["serve", "--db", db, "--port", "0"])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(try server.waitForPort())"
        let http = TestHTTP(followsRedirects: false)
        let form = try await http.request(.GET, base + "/console/login")
        let loginCookie = (form.headers["set-cookie"] ?? "").split(separator: ";")[0]
        let csrf = form.text.range(of: "name=\"csrf\" value=\"").map { String(form.text[$0.upperBound...].prefix { $0 != "\"" }) } ?? ""
        let login = try await http.request(.POST, base + "/console/login", body: Array("csrf=\(csrf)&name=bench&password=bench+password+123".utf8),
                                           headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", String(loginCookie))])
        let session = (login.headers["set-cookie"] ?? "").split(separator: ";")[0]
        guard login.status == 303, session.hasPrefix("pos_console=") else { throw BenchError("console login failed: \(login.status) \(login.text)") }
        var pageTimes: [Double] = [], bytes = 0
        for _ in 0..<7 {
            let t = Date()
            let page = try await http.request(.GET, base + "/console", headers: [("Cookie", String(session))])
            pageTimes.append(Date().timeIntervalSince(t))
            guard page.status == 200, page.text.contains("data-node=\"S\(stores - 1)\"") else { throw BenchError("stores page: \(page.status)") }
            bytes = page.body.count
        }
        let page = pageTimes.sorted()[3] * 1000, query = queryTimes.sorted()[3] * 1000
        return BenchRow(row: "console stores page", workload: "GET /console of a hub with \(stores) stores (login session, real poshub serve)",
                        figure: page, unit: "ms", reference: query, referenceWorkload: "the same figures' query alone (HubStore.storeOverview), in-process",
                        ratio: page / query, target: "< 1000 ms", met: page < 1000,
                        notes: String(format: "median of 7; %d KB of HTML", bytes / 1024))
    }
}
