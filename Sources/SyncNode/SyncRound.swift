import Foundation
import SyncModel
import SyncStore
import SyncWire

extension HubClient: HubTransport {
    public func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply {
        try await push(batch: batch, renamesApplied: renamesApplied, pendingAfter: pendingAfter, timeout: .seconds(60))
    }
    public func pull(cursor: Int64, maxEntries: Int, ownThrough: Int64) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await pull(cursor: cursor, maxEntries: maxEntries, ownThrough: ownThrough, timeout: .seconds(60))
    }
    public func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await snapshot(cursor: cursor, maxEntries: maxEntries, timeout: .seconds(120))
    }
}

/// What one sync round did, as `posnode sync` prints it.
public struct SyncSummary: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case pushedEntries = "pushed_entries", pushedBatches = "pushed_batches", applied, duplicates, renames, rejected, warnings, moves, clockRestamped = "clock_restamped", pulledChanges = "pulled_changes", pulledBatches = "pulled_batches", bootstrapped, bytesSent = "bytes_sent", bytesSentUncompressed = "bytes_sent_uncompressed", bytesReceived = "bytes_received", bytesReceivedUncompressed = "bytes_received_uncompressed", cursor, pending, seconds, pushSeconds = "push_seconds", pullSeconds = "pull_seconds"
        case accessExtracts = "access_extracts", restored, hubRestored = "hub_restored"
    }

    /// Set when the hub had been restored to an earlier point and had less of this store than
    /// the store held: what the store sent again and re-baselined.
    public var hubRestored: String?

    /// Set when the hub found this store's journal had gone back (restored from a backup): how
    /// it rejoined.
    public var restored: String?
    public var pushedEntries = 0
    public var pushedBatches = 0
    public var applied = 0
    public var duplicates = 0
    public var renames: [PushApplySummary.Rename] = []
    /// Entries the hub refused: nothing of them was applied (`posnode sync` exits 3).
    public var rejected: [EntryResult] = []
    /// Entries applied with a warning (a duplicate Polish VAT ID registered offline).
    public var warnings: [EntryResult] = []
    /// Customer moves of this store the hub carried out.
    public var moves: [String] = []
    /// Entries the hub applied with its own time: this node's clock led the hub's beyond the bound.
    public var clockRestamped = 0
    public var pulledChanges = 0
    public var pulledBatches = 0
    public var bootstrapped = false
    public var bytesSent = 0
    public var bytesSentUncompressed = 0
    public var bytesReceived = 0
    public var bytesReceivedUncompressed = 0
    public var cursor: Int64 = 0
    public var pending = 0
    public var seconds = 0.0
    /// Time spent pushing and pulling (the rest of `seconds`: bookkeeping after the round).
    public var pushSeconds = 0.0
    public var pullSeconds = 0.0
    /// Data-subject cases this store answered with its extract in the round.
    public var accessExtracts = 0

    public init() {}
}

/// Progress of a long round, for a terminal display.
public struct SyncProgress: Sendable {
    public var phase: String
    public var done: Int
    public var total: Int?
}

/// One sync round: push every pending journal entry in bounded batches (each acknowledged only
/// after the hub's reply is applied locally), bootstrap from a snapshot if the node is new, then
/// pull the feed page by page. A crash anywhere leads to a resend the hub recognises as duplicate.
public struct SyncRound: Sendable {
    public var store: NodeStore
    public var transport: any HubTransport
    public var limits: BatchLimits
    /// Journal entries per pushed batch.
    public var pushBatchEntries: Int
    /// The most journal entries one round pushes (nil: all): on a slow link the rest waits for
    /// the next round, and the hub sees the backlog (`X-Pending-Entries`).
    public var maxPushEntries: Int?

    /// 7,500 entries per push: each push is one hub transaction, and its commit writes every
    /// page the push changed to the log — the pages of randomly edited partners again in every
    /// push — so fewer, larger pushes catch up faster: in alternating runs of the
    /// 100,000-change catch-up the round took 0.761 s with 5,000, 0.740 s with
    /// 7,500 and 0.716–0.733 s with 10,000 (the hub's writer 0.644, 0.597 and 0.592–0.597 s).
    /// The hub holds two decoded batches of a node at once: its peak while a 1,000,000-change
    /// backlog synced was 85 MB with 7,500 and 96 MB with 10,000 (limit 100 MB), so 7,500.
    /// A batch stays far below the hub's limits.
    public static let defaultPushBatchEntries = 7500
    /// Feed entries per pull.
    public var pullBatchEntries: Int
    public var progress: (@Sendable (SyncProgress) -> Void)?

    public init(store: NodeStore, transport: any HubTransport, limits: BatchLimits = .default,
                pushBatchEntries: Int = SyncRound.defaultPushBatchEntries, pullBatchEntries: Int = 5000, progress: (@Sendable (SyncProgress) -> Void)? = nil) {
        self.store = store
        self.transport = transport
        var limits = limits
        // A page names the kinds this store replicates.
        limits.kinds = store.kinds
        self.limits = limits
        self.pushBatchEntries = pushBatchEntries
        self.pullBatchEntries = pullBatchEntries
        self.progress = progress
    }

    /// Answers the hub's open data-subject cases with this store's extract of each person
    /// (docs/privacy.md); returns how many were sent.
    func answerAccessRequests() async throws -> Int {
        let open = try await transport.openAccessRequests()
        for notice in open {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let extract = try encoder.encode(try store.accessExtract(codes: notice.partners))
            try await transport.sendAccessExtract(case: notice.id, extract: [UInt8](extract))
        }
        return open.count
    }

    public func run() async throws -> SyncSummary {
        let lock = try SyncLock(storePath: store.path)
        try await lock.lock()
        defer { lock.unlock() }
        let start = Date()
        var summary = SyncSummary()
        var mark = Date()
        func lap() -> Double { defer { mark = Date() }; return Date().timeIntervalSince(mark) }
        do {
            try await checkHubEpoch(&summary)
            try await pushAll(&summary)
            summary.pushSeconds += lap()
            do {
                try await pullAll(&summary)
                summary.pullSeconds += lap()
            } catch is FeedDeferred {
                // A code of ours arrived from another node while our create was unpushed: push, then pull again.
                summary.pullSeconds += lap()
                try await pushAll(&summary)
                summary.pushSeconds += lap()
                try await pullAll(&summary)
                summary.pullSeconds += lap()
            }
            summary.accessExtracts = try await answerAccessRequests()
            try store.compactIfPending()
            try store.recordSync(error: nil)
        } catch {
            try? store.recordSync(error: String(describing: error))
            throw error
        }
        summary.cursor = try store.config().cursor
        summary.pending = try store.pendingCount()
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    /// Asks the hub what it still has of this store when the hub's epoch is not the one the
    /// store last synced in (`HubEpochCheck`; every start of the hub begins one), and takes
    /// the new one: a hub restored to an earlier point gets the entries it lost again and the
    /// store re-baselines its pulls (`NodeStore.adoptHubEpoch`).
    func checkHubEpoch(_ summary: inout SyncSummary) async throws {
        let known = try store.hubEpoch()
        guard let check = try await transport.epochCheck(epoch: known.epoch, cursor: known.cursor),
              check.epoch != known.epoch || !check.cursorValid else { return }
        summary.hubRestored = try store.adoptHubEpoch(check)
    }

    /// A batch ready to send: the pending entries after `after`, encoded.
    struct PreparedBatch: Sendable {
        var seqs: [Int64]
        var bytes: [UInt8]
        var payloadBytes: Int
    }

    /// `version`: the batch format written (the newest the hub reads, as far as the round knows).
    func prepare(after: Int64, node: String, limit: Int? = nil, version: UInt16 = 1) throws -> PreparedBatch? {
        var writer = BatchWriter(node: node, version: version)
        // Entries with long texts: the batch ends at half the hub's compressed limit (the
        // compressed size never exceeds the payload by more than a few bytes), so it is
        // never refused for its size; a single larger entry still goes alone.
        let budget = min(limits.maxCompressedBytes, limits.maxUncompressedBytes) / 2
        var seqs: [Int64] = []
        // Encoded from the journal's text as it is read: no entry is decoded into fields.
        try store.forEachPendingJournal(after: after, limit: min(limit ?? pushBatchEntries, pushBatchEntries)) { e in
            if !seqs.isEmpty && writer.payloadBytes >= budget { return false }
            try writer.appendJournal(seq: e.seq, hlc: e.hlc, node: e.node, entity: e.entity, op: e.op, key: e.key, fieldsJSON: e.fieldsJSON)
            seqs.append(e.seq)
            return true
        }
        guard !seqs.isEmpty else { return nil }
        let bytes = try writer.finish()
        return PreparedBatch(seqs: seqs, bytes: bytes, payloadBytes: writer.payloadBytes)
    }

    /// Pushes pending entries batch by batch. While the hub applies one batch, the next is read
    /// and encoded. A hub that says it takes more than one push at once (`PushReply.window`)
    /// gets the next batch before its reply to the previous one, so it decodes one batch while
    /// it applies the other and never waits for this node to acknowledge a reply.
    ///
    /// Replies are applied in sequence order. A batch sent before a reply that renamed partners
    /// still carries the old codes; the hub maps them (its renames after `renamesApplied`, which
    /// the batch was sent with), as it does for a batch re-sent after a crash. A batch prepared
    /// but not sent yet is read again. If a batch sent ahead fails, the round goes on one batch
    /// at a time from the last acknowledged entry; a failure then ends the round.
    func pushAll(_ summary: inout SyncSummary) async throws {
        let total = try store.pendingCount()
        var done = 0
        let node = try store.config().nodeID
        var window = 1
        // Batches are written in format version 1 until a reply names a newer one the hub reads
        // (`PushReply.batchFormat`): a round's first batch is small, so little goes in the older form.
        var version: UInt16 = 1
        struct Sent { var batch: PreparedBatch; var ahead: Bool; var reply: Task<PushReply, any Error> }
        var sent: [Sent] = []
        defer { for s in sent { s.reply.cancel() } }
        // The first batch is small: the hub starts applying sooner, and its reply says how many
        // pushes it takes at once before the node has encoded much. The next ones double up to
        // the full size, so the hub has the next batch decoded before it has applied the last.
        var limit = Self.firstPushEntries
        // The batch size, or less when the hub takes fewer entries in one batch (its replies say).
        var cap = pushBatchEntries
        func nextLimit() -> Int { defer { limit = min(limit * 2, cap) }; return min(limit, cap) }
        func lowerCap(to most: Int) {
            cap = min(cap, most)
            limit = min(limit, cap)
        }
        var budget = maxPushEntries ?? Int.max
        var next = budget > 0 ? try prepare(after: 0, node: node, limit: min(nextLimit(), budget), version: version) : nil
        while true {
            while sent.count < window, let batch = next {
                let renamesApplied = try store.config().renamesApplied
                let transport = self.transport
                // What is left after this batch, as far as this round knows (the hub's backlog gauge).
                let pendingAfter = max(0, total - done - sent.reduce(batch.seqs.count) { $0 + $1.batch.seqs.count })
                sent.append(Sent(batch: batch, ahead: !sent.isEmpty,
                                 reply: Task { try await transport.push(batch: batch.bytes, renamesApplied: renamesApplied, pendingAfter: pendingAfter) }))
                budget -= batch.seqs.count
                next = budget > 0 ? try prepare(after: batch.seqs.last ?? 0, node: node, limit: min(nextLimit(), budget), version: version) : nil
            }
            guard !sent.isEmpty else { return }
            let oldest = sent.removeFirst()
            let reply: PushReply
            do {
                reply = try await oldest.reply.value
            } catch {
                // Refused for holding more entries than the hub takes (even fewer than a round's
                // first), or sent ahead of a reply and lost (a hub that lost the order, a dropped
                // connection): wait for the rest, then go on one at a time from what is
                // acknowledged, in batches the hub takes.
                var smaller: Int?
                if case HubClientError.batchTooLarge(let most, _) = error, most >= 1, oldest.batch.seqs.count > most { smaller = most }
                guard smaller != nil || oldest.ahead else { throw error }
                if let smaller { lowerCap(to: smaller) }
                for s in sent { _ = try? await s.reply.value }
                sent = []
                window = 1
                next = try prepare(after: 0, node: node, limit: cap, version: version)
                continue
            }
            let batch = oldest.batch
            if let behind = reply.journalBehind {
                // This store was restored from a backup: renumber what it wrote since, send it again.
                guard summary.restored == nil else {
                    throw StoreError.unexpectedReply("the hub found this store's journal behind again after it rejoined; nothing more sent")
                }
                for s in sent { s.reply.cancel() }
                sent = []
                try store.rejoinAfterRestore(behind)
                summary.restored = "this store's journal was behind the hub's (restored from a backup): the hub had sequence \(behind.hubLastSeq); entries from \(behind.divergedAt) on were renumbered from \(behind.hubLastSeq + 1) and sent again"
                window = 1
                next = try prepare(after: 0, node: node, limit: cap, version: version)
                continue
            }
            let applied = try store.applyPushReply(reply, sent: batch.seqs)
            window = max(1, min(reply.window ?? 1, Self.maxPushWindow))
            version = BatchFormat.negotiated(reply.batchFormat)
            // A hub that takes fewer entries per batch than this node sends: smaller batches from
            // here on (a batch sent ahead that is too large is refused and sent again smaller, above).
            var tooLarge = false
            if let most = reply.maxEntries, most >= 1, most < cap {
                lowerCap(to: most)
                tooLarge = (next?.seqs.count ?? 0) > cap
            }
            if !applied.renames.isEmpty || tooLarge, next != nil {
                next = try prepare(after: sent.last?.batch.seqs.last ?? batch.seqs.last ?? 0, node: node, limit: cap, version: version)
            }
            summary.bytesSentUncompressed += batch.payloadBytes
            summary.pushedBatches += 1
            summary.pushedEntries += batch.seqs.count
            summary.bytesSent += batch.bytes.count
            summary.applied += applied.applied
            summary.duplicates += applied.duplicates
            summary.renames += applied.renames
            summary.rejected += applied.rejected
            summary.warnings += applied.warnings
            summary.moves += applied.moves
            summary.clockRestamped += applied.clockRestamped
            done += batch.seqs.count
            progress?(SyncProgress(phase: "push", done: done, total: total))
        }
    }

    /// Entries in a round's first push (see `pushAll`).
    static let firstPushEntries = 500

    /// The most pushes this node has at the hub at once, whatever the hub offers: each is a
    /// batch in memory on both sides.
    static let maxPushWindow = 2

    /// A page of the feed or snapshot as received and decoded.
    struct FeedPage: Sendable {
        var changes: [Change], nextCursor: Int64, more: Bool, bytes: Int, uncompressedBytes: Int
    }

    func fetchPage(cursor: Int64, snapshot: Bool, ownThrough: Int64) async throws -> FeedPage {
        let page = snapshot
            ? try await transport.snapshot(cursor: cursor, maxEntries: pullBatchEntries)
            : try await transport.pull(cursor: cursor, maxEntries: pullBatchEntries, ownThrough: ownThrough)
        let batch = try BatchCodec.decode(page.batch, limits: limits)
        return FeedPage(changes: batch.changes, nextCursor: page.nextCursor, more: page.more,
                        bytes: page.batch.count, uncompressedBytes: Int(batch.header.uncompressedLength))
    }

    /// Reads the feed page by page. The next page is requested and decoded while the store
    /// applies the current one (its cursor is known once the current page has arrived), so
    /// the hub's read, the transfer and the decoding overlap the store's writes: a new store's
    /// first sync of a 100,000-cell price table took 1.06–1.20 s with one page at a time.
    func pullAll(_ summary: inout SyncSummary) async throws {
        let cfg = try store.config()
        // A new node reads the snapshot (its first page replaces the replicated tables), then pulls.
        // It counts as bootstrapped only after the last snapshot page: a snapshot cut off part-way
        // resumes as a snapshot (unfiltered, without replacing the tables again).
        var snapshot = !cfg.bootstrapped
        var first = cfg.cursor == 0
        // Everything this node wrote up to here is in its store; the hub need not send it back.
        let ownThrough = try store.ownEchoesThrough()
        let round = self
        var next: Task<FeedPage, any Error>? = Task { [snapshot, cursor = cfg.cursor] in
            try await round.fetchPage(cursor: cursor, snapshot: snapshot, ownThrough: ownThrough)
        }
        // Nothing fetched ahead outlives the round, whatever ends it.
        defer { next?.cancel() }
        while let fetching = next {
            let page = try await fetching.value
            let pageIsSnapshot = snapshot
            if !page.more { snapshot = false }
            next = page.more || pageIsSnapshot
                ? Task { [snapshot] in try await round.fetchPage(cursor: page.nextCursor, snapshot: snapshot, ownThrough: ownThrough) }
                : nil
            try store.applyFeed(page.changes, nextCursor: page.nextCursor, snapshot: pageIsSnapshot && first,
                                completesBootstrap: !pageIsSnapshot || !page.more)
            if pageIsSnapshot { summary.bootstrapped = true }
            first = false
            summary.bytesReceived += page.bytes
            summary.bytesReceivedUncompressed += page.uncompressedBytes
            summary.pulledChanges += page.changes.count
            summary.pulledBatches += 1
            progress?(SyncProgress(phase: pageIsSnapshot ? "snapshot" : "pull", done: summary.pulledChanges, total: nil))
        }
        if ownThrough < (try store.journalHead()) { try store.finishRestore() }
    }
}
