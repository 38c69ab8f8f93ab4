import Foundation

/// Keeps a node's overlapping pushes in sequence order.
///
/// A node may send its next batch before the reply to the previous one has arrived (the hub
/// says so in `PushReply.window`), so the hub decodes one batch while it applies the other.
/// The two arrive on separate connections. A push is registered by the sequence range its
/// batch header names as soon as its body has arrived (`register`), and after decoding waits
/// (`turn`) while a registered push of the same node that ends right before it is still in
/// progress, so the two are applied in order whichever is decoded first. Everything else
/// (duplicates, gaps, ownership) is decided by the store, as for a push that arrives alone: a
/// push with no such predecessor in progress goes straight on.
final class PushGate: @unchecked Sendable {
    private let lock = NSLock()
    /// Per node: the sequence ranges of pushes registered and not finished yet.
    private var inProgress: [String: [ClosedRange<Int64>]] = [:]
    /// Per node: pushes waiting for every push that ends at `after` to leave.
    private var waiting: [String: [(after: Int64, resume: CheckedContinuation<Void, Never>)]] = [:]

    /// The pushes of one node the hub takes at once.
    static let window = 2

    /// Registers a push of `range` from `node` whose body has arrived. Every call must be
    /// followed by `leave` with the same arguments.
    func register(node: String, range: ClosedRange<Int64>) {
        lock.lock()
        inProgress[node, default: []].append(range)
        lock.unlock()
    }

    /// Returns when the registered push of `range` may be applied: no registered push of the
    /// same node ends right before it.
    func turn(node: String, range: ClosedRange<Int64>) async {
        let (after, overflow) = range.lowerBound.subtractingReportingOverflow(1)
        guard !overflow else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            let blocked = inProgress[node]?.contains { $0.upperBound == after } ?? false
            if blocked { waiting[node, default: []].append((after, c)) }
            lock.unlock()
            if !blocked { c.resume() }
        }
    }

    /// The push of `range` is finished (applied, refused or failed).
    func leave(node: String, range: ClosedRange<Int64>) {
        lock.lock()
        var ranges = inProgress[node] ?? []
        if let i = ranges.firstIndex(of: range) { ranges.remove(at: i) }
        inProgress[node] = ranges.isEmpty ? nil : ranges
        var ready: [CheckedContinuation<Void, Never>] = []
        if var queue = waiting[node] {
            queue.removeAll { w in
                guard !ranges.contains(where: { $0.upperBound == w.after }) else { return false }
                ready.append(w.resume)
                return true
            }
            waiting[node] = queue.isEmpty ? nil : queue
        }
        lock.unlock()
        for c in ready { c.resume() }
    }

    /// Pushes registered and not finished (for tests).
    func count(node: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return inProgress[node]?.count ?? 0
    }
}
