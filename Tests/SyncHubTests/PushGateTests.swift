import Foundation
import Testing
import SyncTesting
@testable import SyncHub

/// Set once an awaited step has passed.
private actor Flag {
    var isSet = false
    func set() { isSet = true }
}

@Suite("overlapping pushes of one node are applied in sequence order")
struct PushGateTests {
    @Test("a push waits while the push that ends right before it is in progress, and goes on when it leaves")
    func successorWaits() async throws {
        let gate = PushGate()
        await gate.enter(node: "A", range: 1...500)
        let passed = Flag()
        let successor = Task {
            await gate.enter(node: "A", range: 501...1000)
            await passed.set()
        }
        // Give the successor every chance to pass the gate wrongly.
        for _ in 0..<20 { await Task.yield() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await passed.isSet == false)
        #expect(gate.count(node: "A") == 2)
        gate.leave(node: "A", range: 1...500)
        await successor.value
        #expect(await passed.isSet)
        gate.leave(node: "A", range: 501...1000)
        #expect(gate.count(node: "A") == 0)
    }

    @Test("a push decoded before the push sent ahead of it waits for that one, which was registered when its body arrived")
    func decodedFirstWaits() async throws {
        let gate = PushGate()
        gate.register(node: "A", range: 1...500)     // body arrived, still decoding
        gate.register(node: "A", range: 501...1000)  // body arrived later, decoded first
        let passed = Flag()
        let successor = Task {
            await gate.turn(node: "A", range: 501...1000)
            await passed.set()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await passed.isSet == false)
        await gate.turn(node: "A", range: 1...500)   // nothing registered ends at 0
        gate.leave(node: "A", range: 1...500)
        await successor.value
        gate.leave(node: "A", range: 501...1000)
        #expect(gate.count(node: "A") == 0)
    }

    @Test("pushes of other nodes, and a push without its predecessor in progress, go straight on")
    func independentPushes() async {
        let gate = PushGate()
        await gate.enter(node: "A", range: 1...500)
        await gate.enter(node: "B", range: 501...1000)   // another node
        await gate.enter(node: "A", range: 2001...2500)  // no push of A ends at 2000
        await gate.enter(node: "A", range: 1...500)      // the same batch sent again
        #expect(gate.count(node: "A") == 3)
        for (n, r): (String, ClosedRange<Int64>) in [("A", 1...500), ("B", 501...1000), ("A", 2001...2500), ("A", 1...500)] { gate.leave(node: n, range: r) }
        #expect(gate.count(node: "A") == 0 && gate.count(node: "B") == 0)
    }

    @Test("a batch sent twice: its successor waits until both copies have left")
    func duplicatePredecessor() async throws {
        let gate = PushGate()
        await gate.enter(node: "A", range: 1...500)
        await gate.enter(node: "A", range: 1...500)
        let passed = Flag()
        let successor = Task {
            await gate.enter(node: "A", range: 501...1000)
            await passed.set()
        }
        try await Task.sleep(for: .milliseconds(30))
        gate.leave(node: "A", range: 1...500)
        try await Task.sleep(for: .milliseconds(30))
        #expect(await passed.isSet == false)
        gate.leave(node: "A", range: 1...500)
        await successor.value
        #expect(await passed.isSet)
        gate.leave(node: "A", range: 501...1000)
    }
}

extension PushGate {
    /// `register`, then `turn`: a push whose body has arrived and that has been decoded.
    func enter(node: String, range: ClosedRange<Int64>) async {
        register(node: node, range: range)
        await turn(node: node, range: range)
    }
}
