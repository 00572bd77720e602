// Ledger import through the Kotlin bindings — dry run, the refused rows' file in the ledger's own
// encoding (GBK stays GBK), the journal of imports and undo — and the shared vocabulary tables
// (the words the CLI and the import accept). Same checks as test_ledger.py and LedgerTests.swift.
package org.gridwalk.core.tests

import java.io.File
import java.nio.charset.Charset
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.gridwalk.core.*
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

class LedgerTest {
    private lateinit var dir: File
    private lateinit var store: GridwalkStore
    private val gbk = Charset.forName("GBK")

    // A desk's GBK ledger: no 社区 column, a landline without an area code, a desk relation
    // (儿媳 → child, kept in the notes) and a row with a relation no table has.
    private val ledger = (
        "楼栋,单元,门牌,户主姓名,与户主关系,联系电话\n" +
            "3栋,1单元,101,张建国,户主,13800138000\n" +
            "3栋,1单元,101,李秀英,儿媳,6012345\n" +
            "3栋,1单元,102,王五,外星人,\n"
        ).toByteArray(gbk)

    @BeforeEach
    fun open() {
        dir = Files.createTempDirectory("gridwalk-kt-ledger").toFile()
        store = openDemoStore(dir)
    }

    @AfterEach
    fun close() {
        store.closeStore()
        store.close()
        dir.deleteRecursively()
    }

    @Test
    fun `dry run, then import with the refused rows' file, the journal and undo`() {
        val dry = store.importLedgerWith(ledger, ImportOptions(gridCode = GRID, dryRun = true, areaCode = "0953"))
        assertTrue(dry.report.dryRun)
        assertNull(dry.report.importId)
        assertEquals("gbk", dry.report.encoding)
        assertEquals(2u, dry.report.rowsAccepted)
        assertEquals(1, dry.report.rejected.size)
        assertTrue(store.listHouseholds(HouseholdFilter()).isEmpty())

        val out = store.importLedgerWith(ledger, ImportOptions(gridCode = GRID, areaCode = "0953", fileName = "台账.csv"))
        val report = out.report
        assertEquals(listOf(3u, 2u, 1u, 2u), listOf(report.rowsTotal, report.rowsAccepted, report.householdsCreated, report.residentsCreated))
        val refused = report.rejected.single()
        assertEquals(4u, refused.line)
        assertEquals(listOf("relation" to ValidationCode.INVALID_VALUE), refused.errors.map { it.field to it.code })
        assertTrue(refused.reason.contains("与户主关系"), refused.reason)
        val file = assertNotNull(out.rejectedFile)
        assertEquals("gbk", file.encoding)
        val text = String(file.bytes, gbk)
        assertTrue(text.contains("王五") && !text.contains("张建国"), text)

        val house = store.listHouseholds(HouseholdFilter()).single()
        assertEquals("幸福社区", house.address.community)
        val phone = store.residentsOf(house.id).single { it.name == "李秀英" }.phone
        assertTrue(phone!!.startsWith("0953") && phone.endsWith("6012345"), phone)

        val again = store.importLedgerWith(ledger, ImportOptions(gridCode = GRID, areaCode = "0953"))
        assertEquals(0u, again.report.residentsCreated)
        assertEquals(2u, again.report.residentsUnchanged)
        assertNull(again.report.importId)

        val entry = store.ledgerImports().single()
        assertEquals(report.importId, entry.id)
        assertEquals("台账.csv", entry.fileName)
        assertEquals(3u, entry.created)
        assertNull(entry.undoneAtMs)
        val undo = store.undoImport(entry.id)
        assertEquals(listOf(1u, 2u, 3u), listOf(undo.householdsRemoved, undo.residentsRemoved, undo.changesWithdrawn))
        assertTrue(store.listHouseholds(HouseholdFilter()).isEmpty())
        assertNotNull(store.ledgerImports().single().undoneAtMs)
        assertFailsWith<GridwalkException.InvalidState> { store.undoImport(entry.id) }
        assertFailsWith<GridwalkException.NotFound> { store.undoImport("no-such-import") }
    }

    @Test
    fun `vocabularies are the shared tables`() {
        assertEquals(Relation.PARENT, parseRelation("母亲"))
        assertEquals(VisitMode.MESSAGING, parseVisitMode("微信"))
        assertEquals(SpecialGroup.POVERTY, parseSpecialGroup("低保户"))
        assertEquals(CareTier.CLOSE, parseCareTier("close"))
        val near = readVocabulary(VocabularyKind.RELATION, "儿媳")
        assertEquals(Triple("child", false, Relation.CHILD.labelZh()), Triple(near.code, near.exact, near.labelZh))
        val bad = assertFailsWith<GridwalkException.Validation> { parseRelation("外星人") }
        assertEquals("relation" to ValidationCode.INVALID_VALUE, bad.field to bad.code)

        val relations = vocabularyValues(VocabularyKind.RELATION)
        assertEquals(listOf("head", "spouse", "child"), relations.take(3).map { it.code })
        val child = relations.single { it.code == "child" }
        assertTrue(child.deskWords.contains(DeskWord(word = "儿媳", exact = false)))
        for (value in relations) {
            for (word in listOf(value.code, value.labelZh) + value.deskWords.map { it.word }) {
                assertEquals(value.code, parseRelation(word).code(), word)
            }
        }
    }
}
