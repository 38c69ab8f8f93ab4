import DequeModule
import Foundation
import SyncStore

/// Bounds how many pushes the hub holds at once, of all nodes together: a push whose body has
/// arrived waits for a place, in order of arrival, before it is decoded, and keeps it until it
/// is applied (or refused). A push's decoded and prepared entries are most of the hub's memory
/// (about 35 MB for two pushes of 7,500 entries), and the hub has one writer, so pushes beyond
/// the few it decodes beside the one it applies only waited holding memory: when the whole
/// chain reconnects after an outage, every store's two pushes would otherwise be decoded at
/// once. Waiting pushes hold only their compressed bodies (about 110 KB for 7,500 entries);
/// a body still arriving, over a slow or dead link, holds no place.
///
/// No push holding a place waits for one: it waits only for the writer and, through
/// `PushGate`, for a push of the same node registered before it, which holds a place itself;
/// so the places always come back. A node's pushes that arrive out of order are handled as
/// without this bound (`PushGate`: the later one goes first and is refused as a gap).
final class PushAdmission: @unchecked Sendable {
    /// Pushes held at once.
    let places: Int
    private let lock = NSLock()
    private var held = 0
    private var waiting = Deque<CheckedContinuation<Bool, Never>>()

    /// Two places: one push decoding beside the one being applied, as one store catching up
    /// uses them (`PushGate.window`).
    init(places: Int = PushGate.window) { self.places = max(1, places) }

    /// Returns once the push has a place; `waited` says whether it had to wait.
    @discardableResult
    func enter() async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            lock.lock()
            if held < places && waiting.isEmpty {
                held += 1
                lock.unlock()
                c.resume(returning: false)
                return
            }
            waiting.append(c)
            lock.unlock()
        }
    }

    /// The push is done with its place; the longest-waiting push takes it.
    func leave() {
        lock.lock()
        let resume = waiting.popFirst()
        if resume == nil { held -= 1 }
        lock.unlock()
        resume?.resume(returning: true)
    }

    /// Pushes holding a place and waiting for one (for tests and /metrics).
    var counts: (held: Int, waiting: Int) {
        lock.lock(); defer { lock.unlock() }
        return (held, waiting.count)
    }
}
