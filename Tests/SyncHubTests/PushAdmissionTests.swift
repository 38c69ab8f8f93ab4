import Foundation
import Testing
import SyncTesting
@testable import SyncHub

/// Records the order in which waiting pushes got their place.
private actor Order {
    var entered: [Int] = []
    func add(_ i: Int) { entered.append(i) }
}

@Suite("the hub holds a bounded number of pushes at once")
struct PushAdmissionTests {
    @Test("with two places a third push waits until one leaves; waiting pushes get their place in order of arrival")
    func placesAndOrder() async throws {
        let admission = PushAdmission(places: 2)
        #expect(await admission.enter() == false)
        #expect(await admission.enter() == false)
        let order = Order()
        var waiters: [Task<Bool, Never>] = []
        for i in 3...5 {
            waiters.append(Task {
                let waited = await admission.enter()
                await order.add(i)
                return waited
            })
            // Each waiter queues before the next one starts.
            while admission.counts.waiting < i - 2 { await Task.yield() }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await order.entered.isEmpty)
        #expect(admission.counts == (held: 2, waiting: 3))
        admission.leave()
        #expect(await waiters[0].value == true)
        admission.leave()
        admission.leave()
        for w in waiters { #expect(await w.value == true) }
        #expect(await order.entered == [3, 4, 5])
        #expect(admission.counts == (held: 2, waiting: 0))
        admission.leave()
        admission.leave()
        #expect(admission.counts == (held: 0, waiting: 0))
        #expect(await admission.enter() == false)
    }

    @Test("a queue that never empties keeps its order while it drops the waiters it has served")
    func longQueueKeepsOrder() async throws {
        let admission = PushAdmission(places: 1)
        #expect(await admission.enter() == false)
        let order = Order()
        var waiters: [Task<Bool, Never>] = []
        func queue(_ i: Int) async {
            waiters.append(Task {
                let waited = await admission.enter()
                await order.add(i)
                return waited
            })
            while admission.counts.waiting + (await order.entered.count) < i { await Task.yield() }
        }
        for i in 1...150 { await queue(i) }
        // Hand the place on 100 times (the served part of the queue is dropped on the way).
        for served in 1...100 {
            admission.leave()
            while await order.entered.count < served { await Task.yield() }
        }
        for i in 151...170 { await queue(i) }
        #expect(admission.counts == (held: 1, waiting: 70))
        for served in 101...171 {
            admission.leave()
            if served <= 170 { while await order.entered.count < served { await Task.yield() } }
        }
        for w in waiters { #expect(await w.value == true) }
        #expect(await order.entered == Array(1...170))
        #expect(admission.counts == (held: 0, waiting: 0))
    }
}
