import ERPTestServer
import Foundation
import Hummingbird
import SyncTesting

/// The test ERP served in-process on a free loopback port; `stop()` in `defer`.
final class RunningERP: Sendable {
    let server: ERPTestServer
    let port: Int
    let task: Task<Void, Error>
    var baseURL: String { "http://127.0.0.1:\(port)/api/v2.0" }

    init(requestsPer5Minutes: Int = 6000, pageSize: Int = 100) async throws {
        server = ERPTestServer(company: "CRONUS", user: "erp", password: "secret", requestsPer5Minutes: requestsPer5Minutes, pageSize: pageSize)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = server.application(port: 0, logLevel: .critical) { continuation.yield($0) }
        task = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        guard let p = await iterator.next() else { throw CancellationError() }
        port = p
    }

    func stop() { task.cancel() }

    /// A control action (`seed`, `faults`, `post`, `remind`, `pay`, `cancel`); returns the state.
    @discardableResult
    func control(_ action: String, _ body: [String: Any] = [:]) async throws -> [String: Any] {
        let reply = try await TestHTTP().post("http://127.0.0.1:\(port)/_control/\(action)", json: body)
        guard reply.status == 200 else { throw TestFailure("control \(action): \(reply.status) \(reply.text)") }
        return try reply.json() as? [String: Any] ?? [:]
    }

    func state() async throws -> [String: Any] {
        try await TestHTTP().get("http://127.0.0.1:\(port)/_control/state").json() as? [String: Any] ?? [:]
    }

    /// The invoices the ERP holds.
    func invoices() async throws -> [[String: Any]] { try await state()["invoices"] as? [[String: Any]] ?? [] }

    /// The chain's usual lists: salesperson AH, payment terms 14D and 30D, payment method BANK
    /// and CASH, article 4711 (the catalog's adult ticket).
    func seedStandard(customers: [[String: Any]] = []) async throws {
        try await control("seed", [
            "salespeople": [["code": "AH", "name": "Anna Hofer"]], "paymentTerms": ["14D", "30D"], "paymentMethods": ["BANK", "CASH"],
            "items": [["number": "4711", "displayName": "Adult ticket"]], "customers": customers,
        ])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
