import Foundation

/// What the hub did with one pushed journal entry.
public enum EntryOutcome: String, Sendable, Codable {
    case applied
    /// Already applied earlier (same node and sequence): not applied again.
    case duplicate
    /// A partner created offline whose code was taken: stored under `newCode`.
    case renamed
    /// Refused with `reason`; nothing of it was applied.
    case rejected
}

/// The hub's verdict on one entry of a push.
public struct EntryResult: Sendable, Codable, Hashable {
    public var seq: Int64
    public var outcome: EntryOutcome
    public var reason: String?
    /// For `renamed` (and a `duplicate` of a renamed entry): the code the hub stored.
    public var oldCode: String?
    public var newCode: String?
    /// Sequence number of the rename in the hub's rename log for this node.
    public var renameID: Int64?

    public init(seq: Int64, outcome: EntryOutcome, reason: String? = nil, oldCode: String? = nil,
                newCode: String? = nil, renameID: Int64? = nil) {
        self.seq = seq; self.outcome = outcome; self.reason = reason
        self.oldCode = oldCode; self.newCode = newCode; self.renameID = renameID
    }
}

/// Reply to a push. Sent only after the batch is durably applied.
public struct PushReply: Sendable, Codable, Hashable {
    public var node: String
    public var results: [EntryResult]
    /// The next sequence the hub expects from this node.
    public var nextExpected: Int64
    /// The hub's clock, so node clocks stay ahead of what they saw.
    public var hubHLC: UInt64

    public init(node: String, results: [EntryResult], nextExpected: Int64, hubHLC: UInt64) {
        self.node = node; self.results = results; self.nextExpected = nextExpected; self.hubHLC = hubHLC
    }
}

/// An error reply from the hub (JSON body of a 4xx/5xx).
public struct HubErrorReply: Sendable, Codable, Hashable {
    public var error: String
    public var nextExpected: Int64?

    public init(error: String, nextExpected: Int64? = nil) {
        self.error = error
        self.nextExpected = nextExpected
    }
}

/// HTTP header names of the sync protocol (see docs/sync-protocol.md).
public enum SyncHeader {
    /// Push: the highest rename id the node has applied; the hub maps older codes in this push.
    public static let renamesApplied = "X-Renames-Applied"
    /// Pull / snapshot: the cursor to ask from next time.
    public static let nextCursor = "X-Next-Cursor"
    /// Pull: more changes are waiting.
    public static let more = "X-More"
}

/// How a node reaches the hub: over HTTP (`HubClient` in SyncNode) or in-process
/// (`InProcessHubTransport` in SyncHub, used by the simulator and tests). Batches are the
/// encoded bytes of docs/batch-format.md either way.
public protocol HubTransport: Sendable {
    func push(batch: [UInt8], renamesApplied: Int64) async throws -> PushReply
    func pull(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool)
    /// A page of the snapshot for a new node (the hub's feed holds each record once, so the
    /// snapshot is read in bounded pages like a pull).
    func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool)
}
