// A grid worker's day through the view models, against the real library and the real demo
// sync server: sign in → today → a resident with a wrong ID number (the error on its field) →
// fixed → a visit → a patrol fed with fixes → a case with a photo → sync with progress → the
// leader sends the case back for verification (server HTTP API) → it arrives on today's list →
// after-photo → verified → synced → done.
package org.gridwalk.android.presentation

import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.test.runTest
import org.gridwalk.core.Address
import org.gridwalk.core.CareTier
import org.gridwalk.core.CaseEventKind
import org.gridwalk.core.CaseStatus
import org.gridwalk.core.Gender
import org.gridwalk.core.HouseholdInput
import org.gridwalk.core.HousingType
import org.gridwalk.core.PhotoUploadState
import org.gridwalk.core.SyncPhase
import org.gridwalk.core.SyncStatus
import org.gridwalk.core.TodayKind
import org.gridwalk.core.Urgency
import org.gridwalk.core.VisitMode
import org.gridwalk.core.VisitOutcome
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

class WorkerDayFlowTest {
    private lateinit var dir: File
    private lateinit var repo: GridwalkRepository

    @BeforeEach
    fun setUp() {
        dir = Files.createTempDirectory("gridwalk-day").toFile()
        repo = repositoryIn(dir)
    }

    @AfterEach
    fun tearDown() {
        kotlinx.coroutines.runBlocking { repo.close() }
        dir.deleteRecursively()
    }

    @Test
    fun `a worker's day from sign-in to a verified case`() = runTest(timeout = 180.seconds) {
        val scope = backgroundScope

        // ---- sign in ---------------------------------------------------------------------
        val signIn = SignInViewModel(repo, MapSavedState(), scope, deviceName = "junit")
        signIn.onEvent(SignInEvent.SignIn)
        val empty = signIn.awaitState { it.fieldErrors.isNotEmpty() }
        assertEquals(setOf("server_url", "username", "password"), empty.fieldErrors.keys)
        signIn.onEvent(SignInEvent.ServerChanged(serverUrl()))
        signIn.onEvent(SignInEvent.UsernameChanged(WORKER))
        signIn.onEvent(SignInEvent.PasswordChanged("wrong-password"))
        signIn.onEvent(SignInEvent.SignIn)
        val refused = signIn.awaitState("bad credentials") { !it.busy && it.fieldErrors.containsKey("password") }
        assertEquals("bad_credentials", refused.fieldErrors.getValue("password").code)
        assertEquals(ErrorKind.SIGN_IN_AGAIN, refused.fieldErrors.getValue("password").kind)
        assertNull(refused.signedInAs)
        signIn.onEvent(SignInEvent.PasswordChanged(DEMO_PASSWORD))
        signIn.onEvent(SignInEvent.SignIn)
        val signedIn = signIn.awaitState("signed in") { it.signedInAs != null }
        assertEquals(Destination.Today, signedIn.navigateTo)
        assertEquals("", signedIn.password)

        // A household of the worker's grid (registered by the household screen or a ledger).
        val household = repo.call {
            it.addHousehold(
                HouseholdInput(
                    gridCode = GRID,
                    address = Address(community = "幸福社区", building = "12栋", unit = "1单元", floor = 3, room = "301"),
                    housingType = HousingType.OWNED, careTier = CareTier.CLOSE,
                )
            )
        }.ok()

        // ---- today -------------------------------------------------------------------------
        val today = TodayViewModel(repo, scope)
        val list = today.awaitState("today") { !it.loading }
        assertNull(list.error)
        assertTrue(list.day.matches(Regex("\\d{4}-\\d{2}-\\d{2}")), list.day)
        val patrolRow = list.rows.firstOrNull { it.kind == TodayKind.PATROL }
        assertNotNull(patrolRow, "the day's patrols are on the list: ${list.rows}")
        today.onEvent(TodayEvent.Act(patrolRow))
        assertEquals(Destination.Patrol, today.awaitState { it.navigateTo != null }.navigateTo)
        today.onEvent(TodayEvent.NavigationDone)
        val due = list.rows.firstOrNull { it.kind == TodayKind.VISIT_DUE && it.targetId == household.id }
        assertNotNull(due, "a close-care household never visited is due: ${list.rows}")

        // ---- households: find it by a fragment, open it ------------------------------------
        val households = HouseholdsViewModel(repo, MapSavedState(), scope)
        households.onEvent(HouseholdsEvent.SearchTyped("12栋"))
        val found = households.awaitState("search") { s -> s.hits.any { it.householdId == household.id } }
        households.onEvent(HouseholdsEvent.Open(found.hits.first { it.householdId == household.id }.householdId))
        assertEquals(Destination.Household(household.id), households.awaitState { it.navigateTo != null }.navigateTo)

        // ---- a resident with a wrong ID number, then fixed ------------------------------------
        val idNumber = IdNumbers.valid("1980-01-01", male = true)
        val form = ResidentFormViewModel(repo, MapSavedState(), household.id, null, scope)
        form.onEvent(ResidentFormEvent.NameChanged("王建国"))
        form.onEvent(ResidentFormEvent.IdNumberChanged(idNumber.take(10)))
        // Still typing: no error yet.
        assertTrue(form.state.value.fieldErrors.isEmpty())
        form.onEvent(ResidentFormEvent.IdNumberChanged(IdNumbers.withWrongCheck(idNumber)))
        val wrong = form.awaitState("ID number error") { it.fieldErrors.containsKey("id_number") }
        assertEquals("invalid_checksum", wrong.fieldErrors.getValue("id_number").code)
        assertEquals("身份证号校验位错误", wrong.fieldErrors.getValue("id_number").message.zh)
        assertFalse(wrong.derivedFromIdNumber)
        form.onEvent(ResidentFormEvent.Save)
        val refusedSave = form.awaitState("save refused") { !it.saving && it.fieldErrors.containsKey("id_number") }
        assertNull(refusedSave.savedResidentId)
        assertEquals("王建国", refusedSave.name, "nothing typed is lost on a refusal")
        form.onEvent(ResidentFormEvent.IdNumberChanged(idNumber))
        val fixed = form.awaitState("derived") { it.derivedFromIdNumber }
        assertEquals(Gender.MALE, fixed.gender)
        assertEquals("1980-01-01", fixed.birthDate)
        assertTrue(fixed.fieldErrors.isEmpty())
        form.onEvent(ResidentFormEvent.PhoneChanged("13912345678"))
        form.onEvent(ResidentFormEvent.Save)
        val savedForm = form.awaitState("saved") { it.savedResidentId != null }
        assertEquals(Destination.Household(household.id), savedForm.navigateTo)

        val detail = HouseholdDetailViewModel(repo, household.id, scope)
        val shown = detail.awaitState("detail") { !it.loading }
        val resident = shown.residents.single()
        assertEquals("王建国", resident.name)
        assertEquals(idNumber.take(6) + "********" + idNumber.takeLast(4), resident.idNumberMasked)
        assertEquals("139****5678", resident.phoneMasked)
        assertEquals(SyncStatus.LOCAL_ONLY, resident.syncStatus)

        // ---- a visit ---------------------------------------------------------------------------
        val visit = VisitViewModel(repo, MapSavedState(), household.id, scope)
        visit.onEvent(VisitEvent.ModeChosen(VisitMode.IN_PERSON))
        visit.onEvent(VisitEvent.OutcomeChosen(VisitOutcome.FINE))
        visit.onEvent(VisitEvent.NotesChanged("老人身体好，家中整洁"))
        visit.onEvent(VisitEvent.Save)
        assertNotNull(visit.awaitState("visit saved") { it.savedVisitId != null }.savedVisitId)
        detail.onEvent(HouseholdDetailEvent.Refresh)
        val visited = detail.awaitState("visit shown") { it.visits.isNotEmpty() }
        assertEquals(VisitMode.IN_PERSON, visited.visits.single().mode)
        today.onEvent(TodayEvent.Refresh())
        val afterVisit = today.awaitState("today after visit") { s ->
            !s.loading && s.rows.none { it.kind == TodayKind.VISIT_DUE && it.targetId == household.id }
        }
        assertNull(afterVisit.error)

        // ---- a patrol fed with fixes ---------------------------------------------------------
        val gps = FakeGps(fixes = 8)
        val tracking = PatrolTracking(repo, gps)
        val patrol = PatrolViewModel(repo, tracking, MapSavedState(), scope)
        patrol.awaitState("grids") { it.grids.isNotEmpty() }
        patrol.onEvent(PatrolEvent.GridChosen(GRID))
        patrol.onEvent(PatrolEvent.Start)
        patrol.awaitState("running") { it.running }
        awaitThread(gps.sources.single().thread)
        patrol.onEvent(PatrolEvent.Refresh)
        val walked = patrol.awaitState("fixes") { it.fixes >= 8 }
        assertEquals(8, walked.track.size)
        assertTrue(walked.distanceM > 5.0, "distance ${walked.distanceM}")
        patrol.onEvent(PatrolEvent.Stop)
        val stopped = patrol.awaitState("stopped") { !it.running && it.lastFinished != null }
        assertTrue(gps.sources.single().stopped, "stopping the patrol stops the GPS feed")
        assertFalse(stopped.lastFinished!!.counts, "a one-second patrol does not count toward the quota")

        // ---- a case with a photo ---------------------------------------------------------------
        val draft = CaseDraftViewModel(repo, MapSavedState(), null, scope)
        draft.awaitState("taxonomy") { it.categories.size == 6 }
        draft.onEvent(CaseDraftEvent.CategoryChosen("02"))
        val subTypes = draft.awaitState { it.subTypes.isNotEmpty() }.subTypes
        assertTrue(subTypes.all { it.code.startsWith("02") })
        draft.onEvent(CaseDraftEvent.SubTypeChosen("0203"))
        draft.onEvent(CaseDraftEvent.UrgencyChosen(Urgency.URGENT))
        draft.onEvent(CaseDraftEvent.DescriptionChanged("12栋楼道内电动车飞线充电"))
        draft.onEvent(CaseDraftEvent.AddressChanged("12栋1单元楼道"))
        draft.onEvent(CaseDraftEvent.PhotoTaken(cameraFile(dir, "before.jpg").path))
        val withPhoto = draft.awaitState("photo") { it.photos.size == 1 }
        assertNotNull(withPhoto.photos.single().thumbPath?.let { File(it) }?.takeIf { it.isFile }, "thumbnail on disk")
        draft.onEvent(CaseDraftEvent.Submit)
        val caseId = assertNotNull(draft.awaitState("submitted") { it.submittedCaseId != null }.submittedCaseId)

        // ---- sync with progress ------------------------------------------------------------------
        val engine = SyncEngine(repo)
        val sync = SyncViewModel(repo, engine, InProcessSyncScheduler(engine, scope), scope)
        val before = sync.awaitState("sync screen") { it.signedIn }
        assertNull(before.lastSyncMs)
        assertTrue(before.pendingCount >= 5, "household, resident, visit, patrol, case wait: ${before.pendingCount}")
        sync.onEvent(SyncEvent.SyncNow)
        val synced = sync.awaitState("synced") { it.finishedRuns == 1 }
        assertNull(synced.error)
        assertTrue(synced.lastSummary!!.pushed >= 5, "${synced.lastSummary}")
        assertEquals(1, synced.lastSummary!!.photosUploaded)
        assertTrue(engine.run.value.reports > 0, "progress was reported")
        assertEquals(SyncPhase.UPLOAD, engine.run.value.phase)
        val afterSync = sync.awaitState("counts") { it.lastSyncMs != null && it.pendingCount == 0L }
        assertTrue(afterSync.conflicts.isEmpty() && afterSync.attention.isEmpty(), "$afterSync")
        detail.onEvent(HouseholdDetailEvent.Refresh)
        assertEquals(SyncStatus.SYNCED, detail.awaitState { it.residents.single().syncStatus == SyncStatus.SYNCED }.residents.single().syncStatus)

        // ---- the leader sends the case back for verification ---------------------------------
        val leader = Leader(serverUrl())
        assertEquals("submitted", leader.caseStatus(caseId))
        leader.sendForVerification(caseId)
        sync.onEvent(SyncEvent.SyncNow)
        val pulled = sync.awaitState("pulled") { it.finishedRuns == 2 }
        assertNull(pulled.error)
        assertTrue(pulled.lastSummary!!.pulled > 0, "the case's new status and the task came down")
        today.onEvent(TodayEvent.Refresh())
        val task = today.awaitState("verification on today's list") { s ->
            !s.loading && s.rows.any { it.kind == TodayKind.VERIFY_CASE && it.targetId == caseId }
        }.rows.first { it.kind == TodayKind.VERIFY_CASE }
        today.onEvent(TodayEvent.Act(task))
        assertEquals(Destination.Case(caseId), today.awaitState { it.navigateTo != null }.navigateTo)

        val cases = CasesViewModel(repo, scope)
        assertEquals(listOf(caseId), cases.awaitState("cases") { !it.loading }.toVerify.map { it.id })

        // ---- after-photo, verified ------------------------------------------------------------
        val case = CaseViewModel(repo, MapSavedState(), caseId, scope)
        val toVerify = case.awaitState("case") { it.case != null }
        assertTrue(toVerify.canVerify)
        assertTrue(toVerify.timeline.any { it.kind == CaseEventKind.SERVER_UPDATE && it.status == CaseStatus.VERIFICATION_REQUESTED })
        // Rejecting needs a note: the error lands on the note field and nothing is sent.
        case.onEvent(CaseEvent.Reject)
        assertEquals("required", case.awaitState { it.fieldErrors.containsKey("note") }.fieldErrors.getValue("note").code)
        case.onEvent(CaseEvent.AfterPhotoTaken(cameraFile(dir, "after.jpg", seed = 7).path))
        case.onEvent(CaseEvent.NoteChanged("已拆除飞线，车辆移至充电棚"))
        case.onEvent(CaseEvent.Confirm)
        val sent = case.awaitState("verification saved") { it.verificationSent }
        assertFalse(sent.canVerify)
        assertTrue(sent.afterPhotoPaths.isEmpty())

        sync.onEvent(SyncEvent.SyncNow)
        val last = sync.awaitState("verification synced") { it.finishedRuns == 3 }
        assertNull(last.error)
        assertTrue(last.lastSummary!!.pushed > 0)
        assertEquals("verified", leader.caseStatus(caseId))
        case.onEvent(CaseEvent.Refresh)
        val done = case.awaitState("verified") { it.case?.status == CaseStatus.VERIFIED }
        assertFalse(done.canVerify)
        val stored = repo.call { it.getCase(caseId) }.ok()
        assertTrue(stored.photos.all { it.uploadState == PhotoUploadState.DONE }, "before- and after-photos uploaded")
        today.onEvent(TodayEvent.Refresh())
        today.awaitState("nothing left to verify") { s -> !s.loading && s.rows.none { it.kind == TodayKind.VERIFY_CASE } }
    }
}
