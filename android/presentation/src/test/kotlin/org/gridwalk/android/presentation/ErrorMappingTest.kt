// Every way a core call fails reaches the screens as a `UiError` with the right kind, field and
// code: provoked for real through the repository where this machine can (validation, missing
// records, states, sign-in, network, cancel, not-a-store, keys, closed store, unreadable photo
// files), and from the exception values for the rest (a newer schema, a damaged file, …).
package org.gridwalk.android.presentation

import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.test.runTest
import org.gridwalk.core.Address
import org.gridwalk.core.CancelHandle
import org.gridwalk.core.CareTier
import org.gridwalk.core.GridLevel
import org.gridwalk.core.GridwalkException
import org.gridwalk.core.HouseholdInput
import org.gridwalk.core.HousingType
import org.gridwalk.core.OrgUnit
import org.gridwalk.core.Relation
import org.gridwalk.core.Residency
import org.gridwalk.core.ResidentInput
import org.gridwalk.core.VerificationVerdict
import org.gridwalk.core.cipherVersion
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

class ErrorMappingTest {
    private lateinit var dir: File
    private lateinit var repo: GridwalkRepository

    @BeforeEach
    fun setUp() {
        dir = Files.createTempDirectory("gridwalk-errors").toFile()
        repo = repositoryIn(dir)
        runBlocking {
            repo.call {
                it.upsertOrgUnits(
                    listOf(
                        OrgUnit(code = COMMUNITY, name = "幸福社区", level = GridLevel.COMMUNITY),
                        OrgUnit(code = GRID, name = "幸福社区第1网格", level = GridLevel.GRID, parentCode = COMMUNITY, isMine = true),
                    )
                )
            }.ok()
        }
    }

    @AfterEach
    fun tearDown() {
        runBlocking { repo.close() }
        dir.deleteRecursively()
    }

    private fun failed(o: Outcome<*>): UiError = assertIs<Outcome.Failed>(o, "expected a failure, got $o").error

    private suspend fun household() = repo.call {
        it.addHousehold(
            HouseholdInput(
                gridCode = GRID, address = Address(community = "幸福社区", building = "1栋", room = "101"),
                housingType = HousingType.OWNED, careTier = CareTier.ROUTINE,
            )
        )
    }.ok()

    @Test
    fun `a refused value lands on its field with the core's code and both languages`() = runTest {
        val h = household()
        val good = IdNumbers.valid("1975-05-05", male = false)
        val e = failed(
            repo.call {
                it.addResident(
                    ResidentInput(
                        householdId = h.id, name = "李秀英", relation = Relation.HEAD,
                        residency = Residency.REGISTERED, idNumber = IdNumbers.withWrongCheck(good),
                    )
                )
            }
        )
        assertEquals(ErrorKind.FIELD, e.kind)
        assertEquals("id_number", e.field)
        assertEquals("invalid_checksum", e.code)
        assertEquals("身份证号校验位错误", e.message.pick("zh-CN"))
        assertTrue(e.message.pick("en").isNotBlank() && e.message.en != e.message.zh)
        assertTrue(!e.message.zh.contains(good.take(14)), "the typed value is never echoed")
        val phone = failed(
            repo.call {
                it.addResident(
                    ResidentInput(householdId = h.id, name = "李秀英", relation = Relation.HEAD,
                        residency = Residency.REGISTERED, phone = "12345")
                )
            }
        )
        assertEquals("phone", phone.field)
        assertEquals("special_groups", ResidentFormViewModel.formField("special_groups[1]"))
        assertEquals("address", ResidentFormViewModel.formField("address.building"))
    }

    @Test
    fun `missing records and forbidden states`() = runTest {
        assertEquals(ErrorKind.NOT_FOUND, failed(repo.call { it.getHousehold("0192-none") }).kind)
        repo.call { it.startPatrol(GRID) }.ok()
        val twice = failed(repo.call { it.startPatrol(GRID) })
        assertEquals(ErrorKind.NOT_ALLOWED_NOW, twice.kind)
        assertTrue(twice.message.zh.isNotBlank())
        val unknownGrid = failed(repo.call { it.checkGrid("999999999999999") })
        assertEquals(ErrorKind.FIELD, unknownGrid.kind)
        assertEquals("grid_code", unknownGrid.field)
    }

    @Test
    fun `sign-in, network and cancel`() = runTest(timeout = 60.seconds) {
        val notSignedIn = failed(repo.call { it.sync(null, null) })
        assertEquals(ErrorKind.SIGN_IN_AGAIN, notSignedIn.kind)
        assertEquals("not_signed_in", notSignedIn.code)
        val bad = failed(repo.call { it.login(serverUrl(), WORKER, "not-the-password", null) })
        assertEquals(ErrorKind.SIGN_IN_AGAIN, bad.kind)
        assertEquals("bad_credentials", bad.code)
        // Nothing listens on port 9 of loopback: no signal, try later.
        val offline = failed(repo.call { it.login("http://127.0.0.1:9", WORKER, DEMO_PASSWORD, null) })
        assertEquals(ErrorKind.OFFLINE, offline.kind)
        assertTrue(offline.retryable)
        val url = failed(repo.call { it.login("ftp://example", WORKER, DEMO_PASSWORD, null) })
        assertEquals(ErrorKind.FIELD, url.kind)
        assertEquals("server_url", url.field)

        repo.call { it.login(serverUrl(), WORKER, DEMO_PASSWORD, "errors-test") }.ok()
        val cancelled = failed(
            repo.call { s ->
                val handle = CancelHandle()
                handle.cancel()
                s.sync(null, handle)
            }
        )
        assertEquals(ErrorKind.CANCELLED, cancelled.kind)
        // The engine reports the same through its run state, and a later sync works.
        val engine = SyncEngine(repo)
        assertIs<Outcome.Ok<SyncSummary>>(engine.runOnce())
        assertEquals(null, engine.run.value.lastError)
    }

    @Test
    fun `a file that is not a store is refused untouched`() = runTest {
        val sheet = File(dir, "ledger.xlsx").apply { writeText("not a database, a spreadsheet the worker picked") }
        val other = GridwalkRepository(StoreOpener(sheet.path, KeyProvider { null }), Dispatchers.IO)
        val e = failed(other.call { it.today(null) })
        assertEquals(ErrorKind.NOT_A_STORE, e.kind)
        assertEquals("not a database, a spreadsheet the worker picked", sheet.readText())
    }

    @Test
    fun `a wrong key or no key is a typed error and never touches the store`() = runTest {
        assertNotNull(cipherVersion(), "the phone library is built with SQLCipher")
        val keyed = File(dir, "keyed").apply { mkdirs() }
        val first = repositoryIn(keyed) { "key-one-0123456789abcdef" }
        val device = first.call { it.deviceId() }.ok()
        first.close()
        val file = File(keyed, "work.db")
        val bytes = file.readBytes()
        val wrong = repositoryIn(keyed) { "key-two-0123456789abcdef" }
        val e = failed(wrong.call { it.deviceId() })
        assertEquals(ErrorKind.WRONG_KEY, e.kind)
        assertTrue(e.message.zh.isNotBlank())
        wrong.close()
        // A build or a provider that lost the key opens nothing either.
        val none = repositoryIn(keyed) { null }
        assertEquals(ErrorKind.NOT_A_STORE, failed(none.call { it.deviceId() }).kind)
        none.close()
        assertTrue(bytes.contentEquals(file.readBytes()), "refused opens leave the file as it was")
        val again = repositoryIn(keyed) { "key-one-0123456789abcdef" }
        assertEquals(device, again.call { it.deviceId() }.ok())
        again.close()
    }

    @Test
    fun `a closed store and an unreadable photo file`() = runTest {
        val missing = failed(repo.verifyCase("0192-case", VerificationVerdict.VERIFIED, null, listOf(File(dir, "gone.jpg").path)))
        assertEquals(ErrorKind.STORAGE, missing.kind)
        assertEquals("io", missing.code)
        val closed = failed(repo.call { s -> s.closeStore(); s.today(null) })
        assertEquals(ErrorKind.CLOSED, closed.kind)
    }

    @Test
    fun `the variants this machine cannot provoke map by their meaning`() {
        val zh = "中文"
        val en = "English"
        val cases = listOf(
            GridwalkException.SchemaTooNew(9, 5, zh, en) to ErrorKind.UPGRADE_APP,
            GridwalkException.Corrupt("/data/work.db.corrupt-1", zh, en) to ErrorKind.STORE_MOVED_ASIDE,
            GridwalkException.ReadOnly("/data/work.db", true, zh, en) to ErrorKind.READ_ONLY,
            GridwalkException.Busy(120u, zh, en) to ErrorKind.BUSY,
            GridwalkException.Format("gpx", zh, en) to ErrorKind.BAD_FILE,
            GridwalkException.Platform("NullPointerException", zh, en) to ErrorKind.APP_FAILURE,
            GridwalkException.Storage("disk full", zh, en) to ErrorKind.STORAGE,
            GridwalkException.Network("server_error", false, zh, en) to ErrorKind.SERVER_REFUSED,
        )
        for ((e, kind) in cases) {
            val ui = ErrorMapping.map(e)
            assertEquals(kind, ui.kind, "$e")
            assertEquals(Bilingual(zh, en), ui.message)
            assertEquals(null, ui.field)
        }
        assertEquals("needs_upgrade", ErrorMapping.map(cases[2].first).code)
        assertTrue(ErrorMapping.map(cases[3].first).retryable)
        assertEquals(ErrorKind.APP_FAILURE, ErrorMapping.map(IllegalStateException("bug")).kind)
    }
}
