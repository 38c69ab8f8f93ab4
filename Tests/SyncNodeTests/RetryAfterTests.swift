import Foundation
import Testing
@testable import SyncNode
import SyncModel

@Suite("The node honours the hub's Retry-After")
struct RetryAfterTests {
    @Test("a 503 or 429 with Retry-After is a busy hub to come back to no sooner than it asked; without it a plain refusal")
    func busy() throws {
        let client = HubClient(baseURL: "http://127.0.0.1:9", token: "t")
        let body = Array(#"{"error":"too many bytes being received"}"#.utf8)
        let busy = client.refusal(503, body, retryAfter: "5")
        #expect(busy.retryAfter == .seconds(5) && busy.isTransient && "\(busy)".contains("busy"), "\(busy)")
        #expect(client.refusal(429, body, retryAfter: " 30 ").retryAfter == .seconds(30))
        #expect(client.refusal(503, body, retryAfter: nil).retryAfter == nil)
        #expect(client.refusal(400, body, retryAfter: "5").retryAfter == nil, "only busy answers ask to wait")
        #expect(client.refusal(503, body, retryAfter: "999999").retryAfter == .seconds(3600), "at most an hour")
    }
}
