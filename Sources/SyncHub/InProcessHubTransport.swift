import Foundation
import SyncModel
import SyncReconcile
import SyncWire

/// A node's connection to a hub in the same process: the same batch encoding, limits and
/// hub code as over HTTP, without the sockets. Used by `possim` and tests.
public struct InProcessHubTransport: HubTransport {
    public var hub: HubStore
    public var node: HubNode
    public var limits: BatchLimits
    public var maxPullEntries: Int

    public init(hub: HubStore, node: HubNode, limits: BatchLimits = .default, maxPullEntries: Int = 5000) {
        self.hub = hub
        self.node = node
        var limits = limits
        limits.kinds = hub.kinds
        self.limits = limits
        self.maxPullEntries = maxPullEntries
    }

    public func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply {
        var reply = try hub.push(node: node, entries: try decode(batch), renamesApplied: renamesApplied)
        reply.maxEntries = limits.maxEntries
        return reply
    }

    /// A push's batch decoded and its changes prepared (`HubStore.decodePush`), as `poshub
    /// serve` does before the push's turn; `push` then applies them.
    public func decode(_ batch: [UInt8]) throws -> PushEntries {
        let decoded = try HubStore.decodePush(batch, limits: limits, node: node.node)
        guard decoded.header.node == node.node else {
            throw HubError.nodeMismatch(tokenNode: node.node, batchNode: decoded.header.node)
        }
        return decoded.entries
    }

    public func pull(cursor: Int64, maxEntries: Int, ownThrough: Int64) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try hub.markPulled(node: node.node)  // as the HTTP route does
        return try page(cursor: cursor, maxEntries: maxEntries, own: (node.node, ownThrough))
    }

    public func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try page(cursor: cursor, maxEntries: maxEntries, own: nil)
    }

    public func openAccessRequests() async throws -> [AccessRequestNotice] {
        try hub.openAccessRequests(node: node.node).map { AccessRequestNotice(id: $0.id, partners: $0.partners) }
    }

    public func sendAccessExtract(case id: String, extract: [UInt8]) async throws {
        try hub.recordAccessExtract(case: id, node: node.node, extract: String(decoding: extract, as: UTF8.self))
    }

    public func epochCheck(epoch: String?, cursor: Int64) async throws -> HubEpochCheck? {
        try hub.epochCheck(node: node.node, epoch: epoch, cursor: cursor)
    }

    func page(cursor: Int64, maxEntries: Int, own: (node: String, through: Int64)?) throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try hub.feedBatch(after: cursor, limit: min(maxEntries, maxPullEntries), own: own, region: node.region)
    }
}

extension HubStore {
    /// A page of the feed as the batch (sender `hub`) that a pull or a snapshot page sends.
    /// `version`: the newest batch format the reading node reads.
    public func feedBatch(after cursor: Int64, limit: Int, own: (node: String, through: Int64)?,
                          region: String?, version: UInt16 = BatchFormat.version) throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        let page = try feed(after: cursor, limit: limit, own: own, region: region)
        return (try BatchCodec.encode(node: "hub", changes: page.changes, level: BatchFormat.feedCompressionLevel, version: version),
                page.nextCursor, page.more)
    }
}
