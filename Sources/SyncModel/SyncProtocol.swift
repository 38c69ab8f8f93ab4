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
    enum CodingKeys: String, CodingKey {
        case seq, outcome, reason, oldCode = "old_code", newCode = "new_code", renameID = "rename_id", warning
        case entity = "renamed_entity", code
    }

    public var seq: Int64
    public var outcome: EntryOutcome
    public var reason: String?
    /// For `renamed` (and a `duplicate` of a renamed entry): the code the hub stored.
    public var oldCode: String?
    public var newCode: String?
    /// Sequence number of the rename in the hub's rename log for this node.
    public var renameID: Int64?
    /// Something the hub stored but reports (a partner registered offline whose Polish VAT ID
    /// another partner already has): the store records it in its audit and status.
    public var warning: String?
    /// For a rename: the kind of the renamed record (`institution`); nil: a partner (the only
    /// kind renamed before institutions were).
    public var entity: String?
    /// For `rejected` (and a `duplicate` of a rejected entry): the refusal's machine code
    /// (`RefusalCode`); the text is `reason`. A code a newer hub adds reads as its text.
    public var code: String?

    public init(seq: Int64, outcome: EntryOutcome, reason: String? = nil, oldCode: String? = nil,
                newCode: String? = nil, renameID: Int64? = nil, warning: String? = nil, entity: String? = nil, code: RefusalCode? = nil) {
        self.seq = seq; self.outcome = outcome; self.reason = reason
        self.oldCode = oldCode; self.newCode = newCode; self.renameID = renameID; self.warning = warning
        self.entity = entity; self.code = code?.rawValue
    }

    /// Listed in a compact reply: not plainly applied, or applied with a warning.
    public var isException: Bool { outcome != .applied || warning != nil }
}

/// Reply to a push. Sent only after the batch is durably applied.
///
/// Two JSON forms. The compact one, sent when the push asks for it (header
/// `X-Push-Reply: compact`), carries the covered sequence range (`first`...`last`) and only the
/// entries whose outcome is not `applied` (`exceptions`); every other entry in the range was
/// applied. A 2,000-entry batch of plain creates gets a reply of a few dozen bytes instead of
/// 2,000 JSON objects (which cost the hub more CPU than applying them). The full form lists
/// every entry in `results`; it is what a node of the first release expects, and every node
/// reads both.
public struct PushReply: Sendable, Hashable {
    public var node: String
    public var results: [EntryResult]
    /// The next sequence the hub expects from this node.
    public var nextExpected: Int64
    /// The hub's clock, so node clocks stay ahead of what they saw.
    public var hubHLC: UInt64
    /// How many pushes of a node the hub takes at once (the next may be sent before this reply
    /// arrives; the hub applies them in sequence order). nil from a hub that takes one at a time.
    public var window: Int?
    /// The most entries the hub takes in one batch (its `--max-entries`): the node sends no
    /// larger batch after this reply, whatever its own batch size. nil from an older hub.
    public var maxEntries: Int?
    /// The hub's wall clock when it replied (milliseconds since 1970): the node compares its
    /// own with it (`posnode status`). nil from an older hub.
    public var hubTimeMillis: UInt64?
    /// Entries whose clock led the hub's by more than its bound (`HLC.defaultMaxLeadMillis`):
    /// applied with the hub's own time as their stamp instead, so they do not win concurrent
    /// edits by that lead. nil or 0: none.
    public var clockRestamped: Int?
    /// The largest such lead, milliseconds.
    public var clockLeadMillis: UInt64?
    /// The newest batch format version the hub reads: the node writes its next batches in it
    /// (at most the newest it writes itself). nil from a hub that reads version 1 only.
    public var batchFormat: Int?
    /// Set when the pushed entries reuse sequences the hub has applied with other content: the
    /// node's journal went back (a store restored from a backup). Nothing of the push was
    /// applied; `results` is empty. The node renumbers its entries from `divergedAt` on after
    /// `hubLastSeq` and pushes them again (docs/design.md, "A store restored from a backup").
    public var journalBehind: JournalBehind?

    public struct JournalBehind: Sendable, Hashable, Codable {
        enum CodingKeys: String, CodingKey { case divergedAt = "diverged_at", hubLastSeq = "hub_last_seq", renamesThrough = "renames_through" }
        /// The first sequence whose content differs from what the hub applied.
        public var divergedAt: Int64
        /// The last sequence of this node the hub has applied.
        public var hubLastSeq: Int64
        /// The hub's last rename for this node: renames of entries the node no longer has are
        /// not to be applied to its new entries.
        public var renamesThrough: Int64

        public init(divergedAt: Int64, hubLastSeq: Int64, renamesThrough: Int64) {
            self.divergedAt = divergedAt; self.hubLastSeq = hubLastSeq; self.renamesThrough = renamesThrough
        }
    }

    /// The most entries one compact reply may cover (the largest batch a hub accepts is smaller).
    public static let maxCovered: Int64 = 1_000_000

    /// Set to `true` in an encoder's `userInfo` for the compact form.
    public static let compactForm = CodingUserInfoKey(rawValue: "PushReply.compact")!

    public init(node: String, results: [EntryResult], nextExpected: Int64, hubHLC: UInt64) {
        self.node = node; self.results = results; self.nextExpected = nextExpected; self.hubHLC = hubHLC
    }
}

extension PushReply: Codable {
    enum CodingKeys: String, CodingKey {
        case node, results, first, last, exceptions, nextExpected = "next_expected", hubHLC = "hub_hlc", window, maxEntries = "max_entries"
        case hubTimeMillis = "hub_time_ms", clockRestamped = "clock_restamped", clockLeadMillis = "clock_lead_ms"
        case batchFormat = "batch_format", journalBehind = "journal_behind"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(node, forKey: .node)
        try c.encode(nextExpected, forKey: .nextExpected)
        try c.encode(hubHLC, forKey: .hubHLC)
        try c.encodeIfPresent(window, forKey: .window)
        try c.encodeIfPresent(maxEntries, forKey: .maxEntries)
        try c.encodeIfPresent(hubTimeMillis, forKey: .hubTimeMillis)
        try c.encodeIfPresent(clockRestamped, forKey: .clockRestamped)
        try c.encodeIfPresent(clockLeadMillis, forKey: .clockLeadMillis)
        try c.encodeIfPresent(batchFormat, forKey: .batchFormat)
        try c.encodeIfPresent(journalBehind, forKey: .journalBehind)
        guard encoder.userInfo[Self.compactForm] as? Bool == true else {
            try c.encode(results, forKey: .results)
            return
        }
        if let first = results.first?.seq, let last = results.last?.seq {
            try c.encode(first, forKey: .first)
            try c.encode(last, forKey: .last)
        }
        try c.encode(results.filter(\.isException), forKey: .exceptions)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        node = try c.decode(String.self, forKey: .node)
        nextExpected = try c.decode(Int64.self, forKey: .nextExpected)
        hubHLC = try c.decode(UInt64.self, forKey: .hubHLC)
        window = try c.decodeIfPresent(Int.self, forKey: .window)
        maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries)
        hubTimeMillis = try c.decodeIfPresent(UInt64.self, forKey: .hubTimeMillis)
        clockRestamped = try c.decodeIfPresent(Int.self, forKey: .clockRestamped)
        clockLeadMillis = try c.decodeIfPresent(UInt64.self, forKey: .clockLeadMillis)
        batchFormat = try c.decodeIfPresent(Int.self, forKey: .batchFormat)
        journalBehind = try c.decodeIfPresent(JournalBehind.self, forKey: .journalBehind)
        if let full = try c.decodeIfPresent([EntryResult].self, forKey: .results) {
            results = full
            return
        }
        let exceptions = try c.decode([EntryResult].self, forKey: .exceptions)
        guard let first = try c.decodeIfPresent(Int64.self, forKey: .first),
              let last = try c.decodeIfPresent(Int64.self, forKey: .last) else {
            guard exceptions.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .exceptions, in: c, debugDescription: "push reply lists entries but no range")
            }
            results = []
            return
        }
        // Journal sequences start at 1; the bound keeps `last - first` from overflowing.
        guard first >= 1, first <= last, last - first < Self.maxCovered else {
            throw DecodingError.dataCorruptedError(forKey: .last, in: c, debugDescription: "push reply range \(first)…\(last) is not a valid batch range")
        }
        var expanded: [EntryResult] = []
        expanded.reserveCapacity(Int(last - first + 1))
        var next = exceptions.makeIterator()
        var pending = next.next()
        for seq in first...last {
            if let e = pending, e.seq == seq {
                expanded.append(e)
                pending = next.next()
            } else {
                expanded.append(EntryResult(seq: seq, outcome: .applied))
            }
        }
        guard pending == nil else {
            throw DecodingError.dataCorruptedError(forKey: .exceptions, in: c,
                                                   debugDescription: "push reply exception for sequence \(pending!.seq) is outside \(first)…\(last), repeated or out of order")
        }
        results = expanded
    }
}

/// The hub's answer to a store about to register a partner (`GET /v1/partner-check`).
public struct PartnerCheck: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case code, codeTaken = "code_taken", vatIDUsedBy = "vat_id_used_by"
    }

    /// The code in normal form.
    public var code: String
    public var codeTaken: Bool
    /// A live partner that already has the Polish VAT ID asked about.
    public var vatIDUsedBy: String?

    public init(code: String, codeTaken: Bool, vatIDUsedBy: String?) {
        self.code = code; self.codeTaken = codeTaken; self.vatIDUsedBy = vatIDUsedBy
    }
}

/// An error reply from the hub (JSON body of a 4xx/5xx).
public struct HubErrorReply: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case error, code, nextExpected = "next_expected", maxEntries = "max_entries"
    }

    public var error: String
    /// The refusal's machine code (`RefusalCode`); absent from hubs before codes.
    public var code: String?
    public var nextExpected: Int64?
    /// With a batch refused for holding more entries than the hub takes: how many it takes.
    public var maxEntries: Int?

    public init(error: String, code: RefusalCode? = nil, nextExpected: Int64? = nil, maxEntries: Int? = nil) {
        self.error = error
        self.code = code?.rawValue
        self.nextExpected = nextExpected
        self.maxEntries = maxEntries
    }
}

/// JSON of the sync protocol: names are snake_case in both directions.
public enum SyncJSON {
    /// Decodes the hub's replies, also those of a hub from before the names were snake_case
    /// (`nextExpected`, `hubHLC`, `renameID`): a camelCase name is read as its snake_case
    /// form, so stores can be upgraded before their hub. (Replies carry no free-form keys.)
    public static func replyDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            let key = path.last!
            guard key.stringValue.contains(where: \.isUppercase) else { return key }
            return AnyKey(snakeCase(key.stringValue))
        }
        return decoder
    }

    /// `nextExpected` -> `next_expected`, `hubHLC` -> `hub_hlc`, `renameID` -> `rename_id`.
    public static func snakeCase(_ name: String) -> String {
        var out = ""
        let chars = Array(name)
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0 {
                let prevLower = chars[i - 1].isLowercase || chars[i - 1].isNumber
                let nextLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if prevLower || (nextLower && chars[i - 1].isUppercase) { out.append("_") }
            }
            out.append(contentsOf: c.lowercased())
        }
        return out
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// HTTP header names of the sync protocol (see docs/sync-protocol.md).
public enum SyncHeader {
    /// Push: the highest rename id the node has applied; the hub maps older codes in this push.
    public static let renamesApplied = "X-Renames-Applied"
    /// Push: `compact` asks for the compact reply form (see `PushReply`).
    public static let pushReply = "X-Push-Reply"
    /// Pull / snapshot: the cursor to ask from next time.
    public static let nextCursor = "X-Next-Cursor"
    /// Pull: more changes are waiting.
    public static let more = "X-More"
    /// Push: the node's wall clock when it sent the push (milliseconds since 1970), for the
    /// hub's gauge of each node's clock offset.
    public static let nodeClock = "X-Node-Clock"
    /// Push: the journal entries the node still has to send after this batch (the hub's gauge
    /// `poshub_node_pending_entries`).
    public static let pendingEntries = "X-Pending-Entries"
}

/// How a node reaches the hub: over HTTP (`HubClient` in SyncNode) or in-process
/// (`InProcessHubTransport` in SyncHub, used by the simulator and tests). Batches are the
/// encoded bytes of docs/batch-format.md either way.
public protocol HubTransport: Sendable {
    /// `pendingAfter`: the entries the node still has to send after this batch.
    func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply
    /// A page of the feed after `cursor`. `ownThrough`: the last journal sequence the pulling
    /// node's store holds; rows that are exactly what it sent up to there are left out.
    func pull(cursor: Int64, maxEntries: Int, ownThrough: Int64) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool)
    /// A page of the snapshot for a new node (the hub's feed gives each record once, so the
    /// snapshot is read in bounded pages like a pull).
    func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool)
    /// The open data-subject cases this node has not answered yet (docs/privacy.md).
    func openAccessRequests() async throws -> [AccessRequestNotice]
    /// Sends this node's extract for a case (JSON, `StoreExtract`).
    func sendAccessExtract(case id: String, extract: [UInt8]) async throws
    /// What the hub still has of this node, which last synced in `epoch` with its feed cursor
    /// at `cursor` (nil: a hub without epochs).
    func epochCheck(epoch: String?, cursor: Int64) async throws -> HubEpochCheck?
}

extension HubTransport {
    /// A transport to a hub without data-subject requests: nothing to answer.
    public func openAccessRequests() async throws -> [AccessRequestNotice] { [] }
    public func sendAccessExtract(case id: String, extract: [UInt8]) async throws {}
    /// A transport to a hub without epochs: nothing to check.
    public func epochCheck(epoch: String?, cursor: Int64) async throws -> HubEpochCheck? { nil }
}

/// The hub's answer to a node that asks what the hub still has of it (`GET /v1/epoch`): a hub
/// restored to an earlier point has forgotten pushes it acknowledged and feed positions it
/// handed out (docs/sync-protocol.md, "A hub restored to an earlier point").
public struct HubEpochCheck: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case epoch, cursorValid = "cursor_valid", lastSeq = "last_seq", renamesThrough = "renames_through", reason
    }
    /// The hub's current epoch: the node syncs in it from now on.
    public var epoch: String
    /// Whether the node's feed cursor is a position of the hub's history; false: the node
    /// re-baselines its pulls (a snapshot).
    public var cursorValid: Bool
    /// The last journal sequence of the node the hub has applied.
    public var lastSeq: Int64
    /// The hub's last rename of the node's codes (`PushReply` rename ids).
    public var renamesThrough: Int64
    /// Why the cursor is not valid, for the node's audit.
    public var reason: String?

    public init(epoch: String, cursorValid: Bool, lastSeq: Int64, renamesThrough: Int64, reason: String? = nil) {
        self.epoch = epoch; self.cursorValid = cursorValid; self.lastSeq = lastSeq; self.renamesThrough = renamesThrough; self.reason = reason
    }
}

/// An open data-subject case a store answers with its extract: the case and the person's
/// partner codes (no other personal data).
public struct AccessRequestNotice: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey { case id = "case", partners }
    public var id: String
    public var partners: [String]
    public init(id: String, partners: [String]) { self.id = id; self.partners = partners }
}

/// The credential of an `Authorization: Bearer TOKEN` header, for the hub and the node's
/// local API alike.
public enum BearerToken {
    /// The token, or nil when the header is missing or names another scheme. The scheme name
    /// is case-insensitive (RFC 6750 section 2.1, RFC 9110 section 11.1).
    public static func parse(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}

/// `GET /v1/state-hash` (hub) and `GET /state-hash` (node): the digest of what the caller replicates.
public struct StateHashReply: Sendable, Codable, Equatable {
    public var stateHash: String
    enum CodingKeys: String, CodingKey { case stateHash = "state_hash" }
    public init(stateHash: String) { self.stateHash = stateHash }
}

/// `GET /v1/partners/{code}`: the code in its normal form, when the hub has that partner.
public struct PartnerCodeReply: Sendable, Codable, Equatable {
    public var code: String
    public init(code: String) { self.code = code }
}

/// `POST /v1/moves`: the move was carried out.
public struct MoveReply: Sendable, Codable, Equatable {
    public var result: String
    public init(result: String = "moved") { self.result = result }
}

/// `DELETE /partners/{code}` (node): the partner is now a tombstone.
public struct DeletedReply: Sendable, Codable, Equatable {
    public var deleted: String
    public init(deleted: String) { self.deleted = deleted }
}
