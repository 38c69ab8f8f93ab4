import SyncHub
import SyncModel

/// A test transport in front of an in-process hub: every call goes to `inner` unless the
/// conforming type implements it itself (to lose, count or change what passes).
public protocol PassThroughTransport: HubTransport {
    var inner: InProcessHubTransport { get }
}

extension PassThroughTransport {
    public func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply {
        try await inner.push(batch: batch, renamesApplied: renamesApplied, pendingAfter: pendingAfter)
    }
    public func pull(cursor: Int64, maxEntries: Int, ownThrough: Int64) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await inner.pull(cursor: cursor, maxEntries: maxEntries, ownThrough: ownThrough)
    }
    public func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await inner.snapshot(cursor: cursor, maxEntries: maxEntries)
    }
}
