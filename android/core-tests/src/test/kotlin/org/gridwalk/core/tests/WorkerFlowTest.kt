// A grid worker's day through the generated Kotlin bindings, on the JVM with JNA — the same
// code path the Android app uses, minus Android. Run by scripts/test-bindings.sh.
package org.gridwalk.core.tests

import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import javax.imageio.ImageIO
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.gridwalk.core.*
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

const val GRID = "640323001001001"
const val COMMUNITY = "640323001001"
// Valid GB 11643 numbers (invented): a man born 1980-01-01 and a woman born 1982-03-15.
const val ID_HEAD = "640323198001011235"
const val ID_SPOUSE = "640323198203151244"
// ID_HEAD with a wrong check digit.
const val ID_BAD_CHECKSUM = "640323198001011234"

/** A location source that plays a short walk on its own thread, like a GPS callback would. */
class FakeGps(private val fixes: Int = 5) : LocationSource {
    val delivered = CopyOnWriteArrayList<Boolean>()
    @Volatile var stopped = false
    private var thread: Thread? = null

    override fun start(recorder: PatrolRecorder) {
        thread = Thread {
            for (i in 0 until fixes) {
                // ~1 m north every 150 ms: a walking pace the track filter accepts.
                Thread.sleep(150)
                val fix = LocationFix(
                    lat = 37.7800 + i * 0.00001,
                    lng = 107.4000,
                    accuracyM = 5.0,
                    atMs = System.currentTimeMillis(),
                )
                delivered.add(recorder.record(fix))
            }
        }.also { it.start() }
    }

    override fun stop() {
        stopped = true
    }

    fun awaitDone() = thread?.join(10_000)
}

class WorkerFlowTest {
    private lateinit var dir: File
    private lateinit var store: GridwalkStore

    @BeforeEach
    fun open() {
        dir = Files.createTempDirectory("gridwalk-kt").toFile()
        store = GridwalkStore.open(File(dir, "work.db").path)
        store.upsertOrgUnits(
            listOf(
                OrgUnit(code = COMMUNITY, name = "幸福社区", level = GridLevel.COMMUNITY),
                OrgUnit(
                    code = GRID, name = "幸福社区第1网格", level = GridLevel.GRID,
                    parentCode = COMMUNITY, isMine = true,
                ),
            )
        )
    }

    @AfterEach
    fun close() {
        store.closeStore()
        store.close()
        dir.deleteRecursively()
    }

    private fun household(): Household = store.addHousehold(
        HouseholdInput(
            gridCode = GRID,
            address = Address(community = "幸福社区", building = "3栋", unit = "2单元", room = "502"),
            housingType = HousingType.OWNED,
            careTier = CareTier.CLOSE,
            location = GeoPoint(37.7801, 107.4001),
        )
    )

    private fun png(): ByteArray {
        val img = BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB)
        for (x in 0 until 64) for (y in 0 until 48) img.setRGB(x, y, (x * 4 shl 16) or (y * 5 shl 8))
        return ByteArrayOutputStream().also { ImageIO.write(img, "png", it) }.toByteArray()
    }

    @Test
    fun `household with residents, and a bad ID number is a typed validation error`() {
        val h = household()
        assertEquals(SyncStatus.LOCAL_ONLY, h.syncStatus)
        assertEquals("幸福社区 3栋 2单元 502", h.addressLine)

        val head = store.addResident(
            ResidentInput(
                householdId = h.id, name = "王建国", relation = Relation.HEAD,
                residency = Residency.REGISTERED, idNumber = ID_HEAD, phone = "13912345678",
                specialGroups = listOf(SpecialGroup.VETERAN),
            )
        )
        // Gender and birth date come from the ID number.
        assertEquals(Gender.MALE, head.gender)
        assertEquals("1980-01-01", head.birthDate)
        store.addResident(
            ResidentInput(
                householdId = h.id, name = "李秀英", relation = Relation.SPOUSE,
                residency = Residency.REGISTERED, idNumber = ID_SPOUSE,
            )
        )
        assertEquals(listOf("王建国", "李秀英"), store.residentsOf(h.id).map { it.name })

        val bad = assertFailsWith<GridwalkException.Validation> {
            store.addResident(
                ResidentInput(
                    householdId = h.id, name = "王小明", relation = Relation.CHILD,
                    residency = Residency.REGISTERED, idNumber = ID_BAD_CHECKSUM,
                )
            )
        }
        assertEquals("id_number", bad.field)
        assertEquals(ValidationCode.INVALID_CHECKSUM, bad.code)
        assertEquals("invalid_checksum", bad.code.code())
        assertEquals("身份证号校验位错误", bad.messageZh)
        // Never the typed value in an error.
        assertFalse(bad.message.contains(ID_BAD_CHECKSUM))

        val dup = assertFailsWith<GridwalkException.Validation> {
            store.addResident(
                ResidentInput(
                    householdId = h.id, name = "王建国", relation = Relation.OTHER,
                    residency = Residency.FLOATING, idNumber = ID_HEAD,
                )
            )
        }
        assertEquals(ValidationCode.DUPLICATE, dup.code)
        assertEquals(h.id, dup.existingHouseholdId)

        val badDate = assertFailsWith<GridwalkException.Validation> {
            store.addResident(
                ResidentInput(
                    householdId = h.id, name = "王小红", relation = Relation.CHILD,
                    residency = Residency.REGISTERED, gender = Gender.FEMALE, birthDate = "2015-02-30",
                )
            )
        }
        assertEquals("birth_date", badDate.field)
        assertEquals(ValidationCode.INVALID_DATE, badDate.code)

        val hits = store.search("王建国")
        assertEquals(head.id, hits.first().id)
        assertEquals("resident", hits.first().kind)

        val patched = store.updateHousehold(h.id, HouseholdPatch(careTier = CareTier.ATTENTION, clearLocation = true))
        assertEquals(CareTier.ATTENTION, patched.careTier)
        assertNull(patched.location)
        assertFailsWith<GridwalkException.NotFound> { store.getHousehold("no-such-id") }
    }

    @Test
    fun `a visit is logged and counted in today's statistics`() {
        val h = household()
        val now = System.currentTimeMillis()
        // An hour ago, but never before today's midnight in China: the day's statistics count it.
        val china = 8 * 3_600_000L
        val midnight = (now + china) / 86_400_000 * 86_400_000 - china
        val at = maxOf(now - 3_600_000, midnight)
        val v = store.logVisit(
            VisitInput(
                householdId = h.id, visitedAtMs = at, mode = VisitMode.IN_PERSON,
                outcome = VisitOutcome.FINE, notes = "老人身体不错",
            )
        )
        assertEquals(at, v.visitedAtMs)
        assertEquals(listOf(v.id), store.visitsOf(h.id).map { it.id })

        val future = assertFailsWith<GridwalkException.Validation> {
            store.logVisit(
                VisitInput(
                    householdId = h.id, visitedAtMs = now + 86_400_000, mode = VisitMode.PHONE,
                    outcome = VisitOutcome.FINE,
                )
            )
        }
        assertEquals(ValidationCode.FUTURE_DATE, future.code)

        val stats = store.stats(Period.DAY)
        assertEquals(store.localToday(), stats.firstDay)
        assertEquals(1u, stats.visitsTotal)
        assertEquals(1u, stats.visitsByMode["in_person"])
    }

    @Test
    fun `a patrol fed by a LocationSource, and by single fixes`() {
        val gps = FakeGps(fixes = 5)
        val recorder = store.recordPatrol(GRID, gps)
        gps.awaitDone()
        assertEquals(listOf(true, true, true, true, true), gps.delivered.toList())
        assertEquals(TrackAppend(kept = 5u, skipped = 0u), recorder.totals())
        assertEquals(recorder.patrolId(), store.activePatrol()?.id)

        // The method form: one more fix now, and one from the future that is skipped.
        assertTrue(store.addLocation(recorder.patrolId(), 37.78006, 107.4, 8.0, System.currentTimeMillis()))
        assertFalse(store.addLocation(recorder.patrolId(), 37.78007, 107.4, null, System.currentTimeMillis() + 3_600_000))

        // A second patrol cannot start while this one runs.
        val busy = assertFailsWith<GridwalkException.InvalidState> { store.startPatrol(GRID) }
        assertEquals("patrol", busy.entity)

        val done = recorder.finish("一巡")
        assertTrue(gps.stopped)
        assertNotNull(done.endedAtMs)
        assertEquals(6L, done.pointCount)
        assertTrue(done.distanceM > 0.0, "distance ${done.distanceM}")
        assertEquals(6, store.trackOf(done.id).size)
        assertNull(store.activePatrol())
        assertFailsWith<GridwalkException.InvalidState> {
            recorder.record(LocationFix(37.78, 107.4, null, System.currentTimeMillis()))
        }
        recorder.close()
    }

    @Test
    fun `a case with a photo is drafted and submitted`() {
        val draft = store.draftCase(
            CaseInput(
                typeCode = "0203", urgency = Urgency.URGENT, gridCode = GRID,
                description = "楼道内电动车充电", location = GeoPoint(37.7802, 107.4002),
            )
        )
        assertEquals(CaseStatus.DRAFT, draft.status)
        assertEquals("02", draft.categoryCode)

        val photo = store.addPhoto(PhotoOwner.Case(draft.id), png(), System.currentTimeMillis())
        assertEquals("image/jpeg", photo.mime)
        assertEquals(64u, photo.width)
        assertTrue(File(photo.path!!).isFile)
        assertTrue(File(photo.thumbPath!!).isFile)
        assertEquals(PhotoUploadState.PENDING, photo.uploadState)

        val notAPhoto = assertFailsWith<GridwalkException.Validation> {
            store.addPhoto(PhotoOwner.Case(draft.id), "GIF89a-not-really".toByteArray())
        }
        assertEquals("photo", notAPhoto.field)
        assertEquals(ValidationCode.UNSUPPORTED_FORMAT, notAPhoto.code)

        val sent = store.submitCase(draft.id)
        assertEquals(CaseStatus.SUBMITTED, sent.status)
        assertEquals(listOf(photo.id), sent.photos.map { it.id })
        assertEquals(
            listOf(CaseEventKind.CREATED, CaseEventKind.PHOTO_ADDED, CaseEventKind.SUBMITTED),
            sent.events.map { it.kind },
        )
        val locked = assertFailsWith<GridwalkException.InvalidState> {
            store.updateDraft(draft.id, CaseInput(typeCode = "0203", urgency = Urgency.NORMAL, gridCode = GRID))
        }
        assertEquals("submitted", locked.state)
        assertEquals(1, store.listCases(CaseStatus.SUBMITTED).size)
    }

    @Test
    fun `the phone library encrypts, and a wrong key deletes nothing`() {
        assertNotNull(cipherVersion(), "the library the suites load is the phone build, with SQLCipher")
        val file = File(dir, "secret.db")
        val secret = GridwalkStore.openWithKey(file.path, "right key")
        secret.upsertOrgUnits(listOf(OrgUnit(code = GRID, name = "幸福社区第1网格", level = GridLevel.GRID, isMine = true)))
        secret.addResident(
            ResidentInput(
                householdId = secret.addHousehold(
                    HouseholdInput(
                        gridCode = GRID, address = Address(community = "幸福社区", building = "3栋", room = "502"),
                        housingType = HousingType.OWNED, careTier = CareTier.CLOSE,
                    ),
                ).id,
                name = "王建国", relation = Relation.HEAD, residency = Residency.REGISTERED, idNumber = ID_HEAD,
            )
        )
        secret.closeStore()
        val raw = file.readBytes()
        assertFalse(String(raw, Charsets.ISO_8859_1).startsWith("SQLite format 3"))

        assertFailsWith<GridwalkException.Encryption> { GridwalkStore.openWithKey(file.path, "wrong key") }
        assertFailsWith<GridwalkException.NotAStore> { GridwalkStore.open(file.path) }
        assertTrue(raw.contentEquals(file.readBytes()), "a refused open leaves the file as it was")

        val again = GridwalkStore.openWithKey(file.path, "right key")
        assertEquals(listOf("王建国"), again.search("王建国", 5u).map { it.title })
        again.closeStore()
    }

    @Test
    fun `today's list holds the worker's task and the patrol quota`() {
        val h = household()
        val today = store.localToday()
        val task = store.addTask(
            TaskInput(
                kind = TaskKind.CALL_BACK, title = "回访王阿姨", dueOn = today,
                priority = Priority.HIGH, source = TaskSource.OWN,
                target = TaskTarget(kind = "household", id = h.id),
            )
        )
        val items = store.today(GeoPoint(37.78, 107.40))
        val mine = items.single { it.kind == TodayKind.TASK }
        assertEquals(task.id, mine.targetId)
        assertEquals(Priority.HIGH, mine.priority)
        // The close-care household has never been visited, and no patrol was made today.
        assertTrue(items.any { it.kind == TodayKind.VISIT_DUE && it.targetId == h.id })
        assertTrue(items.any { it.kind == TodayKind.PATROL })

        val done = store.finishTask(task.id, TaskStatus.DONE)
        assertNotNull(done.completedAtMs)
        assertTrue(store.today().none { it.kind == TodayKind.TASK })

        val badDay = assertFailsWith<GridwalkException.Validation> {
            store.addTask(TaskInput(TaskKind.CUSTOM, "x", "tomorrow", Priority.LOW, TaskSource.OWN))
        }
        assertEquals("due_on", badDay.field)
    }

    @Test
    fun `vocabularies carry labels, and a closed store says so`() {
        assertEquals("连心户", CareTier.CLOSE.labelZh())
        assertEquals("close", CareTier.CLOSE.code())
        assertTrue(caseTypes().any { it.code == "0203" && it.labelZh == "电动车违规充电" })
        store.closeStore()
        assertTrue(store.isClosed())
        assertFailsWith<GridwalkException.Closed> { store.myGrids() }
    }
}
