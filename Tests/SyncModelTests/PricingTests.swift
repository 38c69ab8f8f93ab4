import Foundation
import Testing
import SyncModel

@Suite("The pricing rule: table cell or base price, institution discount, lines kept as sold")
struct PricingTests {
    func inputs(cell: (Int64, String)? = nil, discount: Int = 0, currency: String = "PLN") -> Pricing.Inputs {
        Pricing.Inputs(offer: "ADULT", offerCategory: "TIX", basePrice: 2000, currency: currency,
                       cell: cell.map { (amount: $0.0, currency: $0.1) }, discount: Discount(percent: discount))
    }

    @Test("the cell of the price table wins over the base price; without a cell the base price is used")
    func cellOrBase() throws {
        let fromTable = try Pricing.price(inputs(cell: (1250, "PLN")), quantity: 3)
        #expect(fromTable.unitPrice == 1250 && fromTable.source == .table && fromTable.lineTotal == 3750)
        let fromBase = try Pricing.price(inputs(), quantity: 2)
        #expect(fromBase.unitPrice == 2000 && fromBase.source == .base && fromBase.lineTotal == 4000)
    }

    @Test("the institution's discount comes off quantity x unit price, rounded half up to the minor unit")
    func discountRounding() throws {
        let line = try Pricing.price(inputs(cell: (1250, "PLN"), discount: 10), quantity: 3)
        #expect(line.discount == 375 && line.lineTotal == 3375)
        // 5 grosze x 10 % = 0.5 grosz: rounded up to 1.
        let half = try Pricing.line(offer: "X", unitPrice: 5, source: .base, quantity: 1, discount: Discount(percent: 10))
        #expect(half.discount == 1 && half.lineTotal == 4)
        // 4 grosze x 10 % = 0.4 grosz: rounded down to 0.
        let below = try Pricing.line(offer: "X", unitPrice: 4, source: .base, quantity: 1, discount: Discount(percent: 10))
        #expect(below.discount == 0 && below.lineTotal == 4)
        let free = try Pricing.price(inputs(discount: 100), quantity: 1)
        #expect(free.lineTotal == 0)
    }

    @Test("a cell in another currency than the offer's, a quantity out of range and a discount over 100 % are refused naming the field")
    func refusals() throws {
        #expect(throws: FieldError.self) { try Pricing.price(inputs(cell: (1250, "EUR")), quantity: 1) }
        do { _ = try Pricing.price(inputs(cell: (1250, "EUR")), quantity: 1) } catch let e as FieldError { #expect(e.field == "currency") } catch {}
        do { _ = try Pricing.price(inputs(), quantity: 0) } catch let e as FieldError { #expect(e.field == "quantity") } catch {}
        do { _ = try Pricing.price(inputs(discount: 101), quantity: 1) } catch let e as FieldError { #expect(e.field == "discount_percent") } catch {}
        #expect(throws: FieldError.self) { try Pricing.price(inputs(), quantity: DocumentLine.maxQuantity + 1) }
        #expect(throws: FieldError.self) { try CustomerModule.parseDiscount("101") }
        #expect(throws: FieldError.self) { try CustomerModule.parseDiscount("-1") }
        #expect(try CustomerModule.parseDiscount("10") == Discount(percent: 10))
        #expect(try CustomerModule.parseDiscount("12.5").hundredths == 1250 && CustomerModule.parseDiscount("12,25").hundredths == 1225)
        #expect(throws: FieldError.self) { try CustomerModule.parseDiscount("12.345") }
        #expect(Discount(hundredths: 1250).description == "12.5" && Discount(hundredths: 1205).description == "12.05" && Discount(percent: 7).description == "7")
    }

    @Test("a discount with decimals (12.5 %) comes off to the minor unit, rounded half up, and the line reads back the same")
    func decimalDiscount() throws {
        let line = try Pricing.line(offer: "X", unitPrice: 1235, source: .base, quantity: 1, discount: Discount(hundredths: 1000))
        #expect(line.discount == 124 && line.lineTotal == 1111, "1 x 12.35 − 1.24 = 11.11")
        let half = try Pricing.line(offer: "X", unitPrice: 2000, source: .base, quantity: 3, discount: Discount(hundredths: 1250))
        #expect(half.discount == 750 && half.lineTotal == 5250 && half.discountPercent == 12 && half.discountHundredths == 1250)
        #expect(try DocumentLine.parse(DocumentLine.json([half])) == [half])
        #expect(try Pricing.line(offer: "X", unitPrice: 2000, source: .base, quantity: 3, discount: Discount(percent: 10)).discountHundredths == nil,
                "a whole percent reads as before")
    }

    @Test("a document's lines must add up: a line whose total does not follow from its price, or an amount that is not the sum, is refused")
    func linesAddUp() throws {
        let good = try Pricing.price(inputs(cell: (1250, "PLN"), discount: 10), quantity: 3)
        var bad = good
        bad.lineTotal += 1
        #expect(throws: FieldError.self) { try DocumentLine.parse(DocumentLine.json([bad])) }
        #expect(try DocumentLine.parse(DocumentLine.json([good])) == [good])
        #expect(throws: FieldError.self) { try DocumentLine.parse("not json") }

        let doc = Document(id: "A-O1", kind: .order, partnerCode: "K1", site: "WAW", amountMinor: good.lineTotal, currency: "PLN",
                           issuedAt: "2026-12-04T00:00:00Z", node: "A", customerCategory: "SCH", priceVersion: 2, lines: [good])
        #expect(try Document(columnValues: doc.columnValues) == doc)
        var wrongSum = doc
        wrongSum.amountMinor += 100
        do { _ = try Document(columnValues: wrongSum.columnValues); Issue.record("a wrong sum was accepted") } catch let e as FieldError {
            #expect(e.field == "amount_minor")
        }
        // Only a receipt may be without a customer.
        var anonymousOrder = doc
        anonymousOrder.partnerCode = ""
        #expect(throws: FieldError.self) { try Document(columnValues: anonymousOrder.columnValues) }
        anonymousOrder.kind = .receipt
        #expect(try Document(columnValues: anonymousOrder.columnValues).isAnonymous)
    }

    @Test("a --line argument is OFFER:QUANTITY, quantity 1 when left out")
    func lineArgument() throws {
        let three = try DocumentLine.parseRequest("ADULT:3"), one = try DocumentLine.parseRequest("ADULT")
        #expect(three.offer == "ADULT" && three.quantity == 3)
        #expect(one.offer == "ADULT" && one.quantity == 1)
        #expect(throws: FieldError.self) { try DocumentLine.parseRequest("ADULT:0") }
        #expect(throws: FieldError.self) { try DocumentLine.parseRequest("ADULT:x") }
        #expect(throws: FieldError.self) { try DocumentLine.parseRequest(":3") }
    }

    @Test("the lines column is byte for byte what JSONEncoder with sorted keys writes, escapes included, and reads back")
    func linesJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let offers = ["ADULT", "Bilet \"ulgowy\"", "a/b\\c", "ŻÓŁW 🐢", "tab\tnew\nline\u{01}\u{1F}", ""]
        for (i, offer) in offers.enumerated() {
            let lines = [DocumentLine(offer: offer, quantity: i + 1, unitPrice: 1250 * Int64(i), source: i % 2 == 0 ? .table : .base,
                                      discountRate: Discount(hundredths: i * 1000 + (i % 2) * 250), discount: Int64(i), lineTotal: 999_999_999_99 - Int64(i)),
                         DocumentLine(offer: "X", quantity: 100_000, unitPrice: 0, source: .base, discountRate: Discount(percent: 100), discount: 0, lineTotal: 0)]
            let ours = DocumentLine.json(lines)
            #expect(ours == String(decoding: try encoder.encode(lines), as: UTF8.self), "\(offer)")
            #expect(try JSONDecoder().decode([DocumentLine].self, from: Data(ours.utf8)) == lines)
        }
        #expect(DocumentLine.json([]) == "[]")
    }
}
