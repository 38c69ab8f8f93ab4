import Foundation
import Testing
@testable import SyncModel

@Suite("Partner validation")
struct ValidationTests {
    func consumer(_ mutate: (inout Partner) -> Void = { _ in }) -> Partner {
        var p = Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Nowak", country: "PL")
        mutate(&p)
        return p
    }

    @Test("a complete consumer passes")
    func validConsumer() {
        #expect(PartnerValidator.problems(consumer()).isEmpty)
    }

    @Test("a consumer without first name is refused naming first_name")
    func consumerNeedsFirstName() {
        let problems = PartnerValidator.problems(consumer { $0.firstName = nil })
        #expect(problems.map(\.field) == ["first_name"])
    }

    @Test("a consumer with a blank last name is refused naming last_name")
    func consumerNeedsLastName() {
        #expect(PartnerValidator.problems(consumer { $0.lastName = "  " }).map(\.field) == ["last_name"])
    }

    @Test("names of only non-ASCII white space are blank; Polish names are not")
    func unicodeBlank() {
        #expect(PartnerValidator.problems(consumer { $0.lastName = "\u{00A0}\u{3000}\t" }).map(\.field) == ["last_name"])
        #expect(PartnerValidator.problems(consumer { $0.firstName = "Łucja"; $0.lastName = " Żółć" }).isEmpty)
        // Blank is spaces and tabs only (as before the byte-level check): a line break is not blank.
        #expect(PartnerValidator.problems(consumer { $0.lastName = "\n" }).isEmpty)
    }

    @Test("an e-mail needs an @ that is neither first nor last")
    func email() {
        for bad in ["anna.shop.pl", "@shop.pl", "anna@"] {
            #expect(PartnerValidator.problems(consumer { $0.email = bad }).map(\.field) == ["email"], "\(bad)")
        }
        #expect(PartnerValidator.problems(consumer { $0.email = "anna@shop.pl" }).isEmpty)
    }

    @Test("a business customer needs a name but no first or last name")
    func businessNeedsName() {
        let ok = Partner(code: "B1", kind: .business, name: "Sklep Sp. z o.o.")
        #expect(PartnerValidator.problems(ok).isEmpty)
        let missing = Partner(code: "B1", kind: .business, firstName: "Jan", lastName: "Kowalski")
        #expect(PartnerValidator.problems(missing).map(\.field) == ["name"])
    }

    @Test("the code is mandatory and may not contain spaces")
    func codeRules() {
        #expect(PartnerValidator.problems(consumer { $0.code = "" }).map(\.field) == ["code"])
        #expect(PartnerValidator.problems(consumer { $0.code = "10 01" }).map(\.field) == ["code"])
        #expect(PartnerValidator.problems(consumer { $0.code = String(repeating: "9", count: 41) }, newCode: true).map(\.field) == ["code"])
    }

    @Test("a code a user enters has at most 40 characters; a stored code the prefix rule made longer is valid up to 80")
    func codeLengths() {
        let entered = String(repeating: "9", count: 40), prefixed = "K1-" + entered
        #expect(PartnerValidator.problems(consumer { $0.code = entered }, newCode: true).isEmpty)
        #expect(PartnerValidator.problems(consumer { $0.code = prefixed }, newCode: true).map(\.field) == ["code"])
        #expect(PartnerValidator.problems(consumer { $0.code = prefixed }).isEmpty)
        #expect(PartnerValidator.problems(consumer { $0.code = String(repeating: "9", count: 81) }).map(\.field) == ["code"])
    }

    @Test("codes are one normal form: NFC and NFD spellings and lower case read as the same code")
    func codeNormalForm() {
        let nfc = "\u{17B}\u{D3}\u{141}W"            // ŻÓŁW, precomposed
        let nfd = "Z\u{307}O\u{301}\u{141}W"         // the same text, decomposed
        #expect(!nfc.utf8.elementsEqual(nfd.utf8))
        #expect(PartnerCode.normalized(nfd).utf8.elementsEqual(nfc.utf8))
        #expect(PartnerCode.normalized("żółw").utf8.elementsEqual(nfc.utf8))
        #expect(PartnerCode.normalized("c1") == "C1")
        #expect(PartnerCode.normalized(" 1001 ") == "1001")
        // A code not in normal form is refused where it is not normalized first (a pushed entry at the hub).
        #expect(PartnerValidator.problems(consumer { $0.code = nfd }, newCode: true).map(\.field) == ["code"])
        #expect(PartnerValidator.problems(consumer { $0.code = "c1" }, newCode: true).map(\.field) == ["code"])
        #expect(PartnerValidator.problems(consumer { $0.code = nfc }, newCode: true).isEmpty)
    }

    @Test("invisible and control characters are refused in a code", arguments: ["10\u{200B}01", "\u{FEFF}1001", "10\u{7}01", "1001\u{202E}", "10\u{2028}01", "10|01"])
    func invisibleCharacters(_ code: String) {
        let problems = PartnerValidator.problems(consumer { $0.code = code }, newCode: true)
        #expect(problems.map(\.field) == ["code"], "\(problems)")
    }

    @Test("every problem of a partner is reported at once, in the form's words and with the column name")
    func allProblemsAtOnce() throws {
        let p = Partner(code: "", kind: .consumer, country: "PL", nationalID: "123")
        let error = #expect(throws: InvalidFields.self) { try PartnerValidator.validate(p) }
        #expect(error?.problems.map(\.field) == ["code", "first_name", "last_name", "national_id"])
        let lines = error?.description.split(separator: "\n").map(String.init) ?? []
        #expect(lines.count == 4)
        #expect(lines[2] == "last name: is mandatory for a consumer")
        #expect(error?.oneLine.contains("last name (last_name): is mandatory") == true)
        #expect(FieldError(field: "vat_id", reason: "x").description == "VAT ID: x")
    }

    @Test("valid Polish NIPs pass the check digit", arguments: ["5260250274", "PL5260250274", "526-025-02-74", "7740001454"])
    func validNIP(_ nip: String) {
        #expect(PartnerValidator.isValidNIP(nip))
        let p = Partner(code: "B1", kind: .business, name: "X", vatID: nip, country: "PL")
        #expect(PartnerValidator.problems(p).isEmpty)
    }

    @Test("invalid Polish NIPs are refused naming vat_id", arguments: ["5260250275", "526025027", "52602502741", "abcdefghij", "1234567890"])
    func invalidNIP(_ nip: String) {
        #expect(!PartnerValidator.isValidNIP(nip))
        let p = Partner(code: "B1", kind: .business, name: "X", vatID: nip, country: "PL")
        #expect(PartnerValidator.problems(p).map(\.field) == ["vat_id"])
    }

    @Test("the NIP is only checked for country PL")
    func nipOnlyForPL() {
        let p = Partner(code: "B1", kind: .business, name: "X", vatID: "DE123456789", country: "DE")
        #expect(PartnerValidator.problems(p).isEmpty)
    }

    @Test("valid PESEL numbers pass", arguments: ["44051401359", "02070803628", "90090515836"])
    func validPESEL(_ pesel: String) {
        #expect(PartnerValidator.isValidPESEL(pesel))
        #expect(PartnerValidator.problems(consumer { $0.nationalID = pesel }).isEmpty)
    }

    @Test("a PESEL with a wrong check digit is refused naming national_id")
    func wrongPESELCheckDigit() {
        let problems = PartnerValidator.problems(consumer { $0.nationalID = "44051401358" })
        #expect(problems.map(\.field) == ["national_id"])
        #expect(problems.first?.reason.contains("check digit") == true)
    }

    @Test("a PESEL with the wrong number of digits is refused with the count", arguments: ["4405140135", "440514013591", "4405140135X"])
    func wrongPESELLength(_ pesel: String) {
        let problems = PartnerValidator.problems(consumer { $0.nationalID = pesel })
        #expect(problems.map(\.field) == ["national_id"])
        #expect(problems.first?.reason.contains("11 digits") == true)
    }

    @Test("the lowest-price default follows the center parameters by kind")
    func lowestPriceDefault() {
        let center = CenterParameters(lowestPriceForNewBusiness: true, lowestPriceForNewConsumer: false)
        #expect(center.lowestPriceDefault(for: .business))
        #expect(!center.lowestPriceDefault(for: .consumer))
        let other = CenterParameters(lowestPriceForNewBusiness: false, lowestPriceForNewConsumer: true)
        #expect(!other.lowestPriceDefault(for: .business))
        #expect(other.lowestPriceDefault(for: .consumer))
    }

    @Test("amounts parse exactly into minor units and reject garbage")
    func amounts() throws {
        #expect(try Document.parseAmount("12.50") == 1250)
        #expect(try Document.parseAmount("12.5") == 1250)
        #expect(try Document.parseAmount("-3") == -300)
        #expect(Document.formatAmount(1205) == "12.05")
        #expect(throws: FieldError.self) { try Document.parseAmount("12.505") }
        #expect(throws: FieldError.self) { try Document.parseAmount("abc") }
    }

    @Test("partner fields round-trip through the replicated representation")
    func fieldsRoundTrip() throws {
        let p = Partner(code: "1", kind: .consumer, firstName: "Ż", lastName: "Ł", attributes: ["loyalty": "gold"],
                        consents: ["marketing": "2026-01-01T10:00:00Z"], reverseCharge: true, country: "PL",
                        corporateCustomer: "GRP1", lowestPrice: true, originNode: "N1")
        #expect(try Partner(fields: p.fields) == p)
    }

    @Test("the hybrid logical clock never goes backwards")
    func hlcMonotonic() {
        let a = HLC.tick(last: .zero, nowMillis: 1000)
        let b = HLC.tick(last: a, nowMillis: 999)
        #expect(b > a)
        let c = HLC.receive(last: b, remote: HLC(millis: 5000, counter: 3), nowMillis: 1000)
        #expect(c > HLC(millis: 5000, counter: 3))
    }
}
