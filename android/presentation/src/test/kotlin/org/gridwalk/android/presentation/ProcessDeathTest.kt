// Process death: the system kills the app while the worker is in the middle of things, and
// the view models are rebuilt in a new process from the saved-state map the platform kept (and,
// when even that is gone, from the store alone). Nothing saved is lost, nothing half-typed is
// lost, and a running patrol carries on.
package org.gridwalk.android.presentation

import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.test.runTest
import org.gridwalk.core.Address
import org.gridwalk.core.CareTier
import org.gridwalk.core.CaseStatus
import org.gridwalk.core.GeoPoint
import org.gridwalk.core.GridLevel
import org.gridwalk.core.HouseholdInput
import org.gridwalk.core.HousingType
import org.gridwalk.core.OrgUnit
import org.gridwalk.core.SpecialGroup
import org.gridwalk.core.TodayKind
import org.gridwalk.core.Urgency
import org.gridwalk.core.VisitMode
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

class ProcessDeathTest {
    private lateinit var dir: File

    @BeforeEach
    fun setUp() {
        dir = Files.createTempDirectory("gridwalk-death").toFile()
        runBlocking {
            val repo = repositoryIn(dir)
            repo.call {
                it.upsertOrgUnits(
                    listOf(
                        OrgUnit(code = COMMUNITY, name = "幸福社区", level = GridLevel.COMMUNITY),
                        OrgUnit(code = GRID, name = "幸福社区第1网格", level = GridLevel.GRID, parentCode = COMMUNITY, isMine = true),
                    )
                )
            }.ok()
            repo.close()
        }
    }

    @AfterEach
    fun tearDown() {
        dir.deleteRecursively()
    }

    /** One app process: the repository (the store opened once); closing it is the kill. */
    private inner class Process : AutoCloseable {
        val repo = repositoryIn(dir)
        override fun close() {
            runBlocking { repo.close() }
        }
    }

    private suspend fun household(repo: GridwalkRepository, building: String, room: String) = repo.call {
        it.addHousehold(
            HouseholdInput(
                gridCode = GRID,
                address = Address(community = "幸福社区", building = building, unit = "1单元", floor = room.take(1).toInt(), room = room),
                housingType = HousingType.RENTED, careTier = CareTier.ATTENTION,
            )
        )
    }.ok()

    @Test
    fun `a half-typed resident form and visit come back after the process dies`() = runTest(timeout = 60.seconds) {
        val saved = MapSavedState()
        val visitSaved = MapSavedState()
        val id = IdNumbers.valid("1990-10-10", male = false)
        val householdId: String
        Process().use { p ->
            householdId = household(p.repo, "5栋", "502").id
            val form = ResidentFormViewModel(p.repo, saved, householdId, null, backgroundScope)
            form.onEvent(ResidentFormEvent.NameChanged("陈美玲"))
            form.onEvent(ResidentFormEvent.PhoneChanged("13800001111"))
            form.onEvent(ResidentFormEvent.SpecialGroupToggled(SpecialGroup.DISABLED))
            form.onEvent(ResidentFormEvent.IdNumberChanged(id))
            form.awaitState("derived") { it.derivedFromIdNumber }
            val visit = VisitViewModel(p.repo, visitSaved, householdId, backgroundScope)
            visit.onEvent(VisitEvent.ModeChosen(VisitMode.PHONE))
            visit.onEvent(VisitEvent.NotesChanged("电话联系，说明周三在家"))
        }
        // The platform hands the saved maps to the new process; nothing else survives.
        Process().use { p ->
            val form = ResidentFormViewModel(p.repo, MapSavedState(saved.snapshot()), householdId, null, backgroundScope)
            val back = form.awaitState("restored and re-checked") { it.derivedFromIdNumber }
            assertEquals("陈美玲", back.name)
            assertEquals("13800001111", back.phone)
            assertEquals(setOf(SpecialGroup.DISABLED), back.specialGroups)
            assertEquals("1990-10-10", back.birthDate)
            form.onEvent(ResidentFormEvent.Save)
            assertNotNull(form.awaitState("saved") { it.savedResidentId != null }.savedResidentId)
            val visit = VisitViewModel(p.repo, MapSavedState(visitSaved.snapshot()), householdId, backgroundScope)
            assertEquals(VisitMode.PHONE, visit.state.value.mode)
            assertEquals("电话联系，说明周三在家", visit.state.value.notes)
        }
        // Saved means in the store: a third process with no saved state at all finds her.
        Process().use { p ->
            val detail = HouseholdDetailViewModel(p.repo, householdId, backgroundScope)
            assertEquals(listOf("陈美玲"), detail.awaitState { !it.loading }.residents.map { it.name })
        }
    }

    @Test
    fun `a case draft survives, with or without saved state`() = runTest(timeout = 60.seconds) {
        val saved = MapSavedState()
        val draftId: String
        Process().use { p ->
            val draft = CaseDraftViewModel(p.repo, saved, null, backgroundScope)
            draft.awaitState { it.categories.isNotEmpty() }
            draft.onEvent(CaseDraftEvent.CategoryChosen("03"))
            draft.awaitState { it.subTypes.isNotEmpty() }
            val sub = draft.state.value.subTypes.first().code
            draft.onEvent(CaseDraftEvent.SubTypeChosen(sub))
            draft.onEvent(CaseDraftEvent.UrgencyChosen(Urgency.EMERGENCY))
            draft.onEvent(CaseDraftEvent.DescriptionChanged("井盖缺失，有人跌落危险"))
            draft.onEvent(CaseDraftEvent.LocationFixed(GeoPoint(37.7801, 107.4002)))
            draft.onEvent(CaseDraftEvent.PhotoTaken(cameraFile(dir, "manhole.jpg").path))
            draftId = assertNotNull(draft.awaitState("photo on the draft") { it.photos.size == 1 }.draftId)
        }
        Process().use { p ->
            val draft = CaseDraftViewModel(p.repo, MapSavedState(saved.snapshot()), null, backgroundScope)
            val back = draft.awaitState("draft back") { it.photos.size == 1 && it.subTypes.isNotEmpty() }
            assertEquals(draftId, back.draftId)
            assertEquals("井盖缺失，有人跌落危险", back.description)
            assertEquals(Urgency.EMERGENCY, back.urgency)
            assertEquals("03", back.category)
            assertEquals(GeoPoint(37.7801, 107.4002), back.location)
        }
        // Saved state lost too (the worker swiped the app away): today's list leads back to it.
        Process().use { p ->
            val today = TodayViewModel(p.repo, backgroundScope)
            val row = today.awaitState { !it.loading }.rows.first { it.kind == TodayKind.DRAFT_CASE }
            today.onEvent(TodayEvent.Act(row))
            assertEquals(Destination.CaseDraft(draftId), today.awaitState { it.navigateTo != null }.navigateTo)
            val draft = CaseDraftViewModel(p.repo, MapSavedState(), draftId, backgroundScope)
            draft.awaitState { it.photos.size == 1 }
            draft.onEvent(CaseDraftEvent.Submit)
            draft.awaitState("submitted") { it.submittedCaseId == draftId }
            assertEquals(CaseStatus.SUBMITTED, p.repo.call { it.getCase(draftId) }.ok().status)
        }
    }

    @Test
    fun `a running patrol carries on in the next process`() = runTest(timeout = 60.seconds) {
        val patrolId: String
        val before: Long
        Process().use { p ->
            val gps = FakeGps(fixes = 5)
            val patrol = PatrolViewModel(p.repo, PatrolTracking(p.repo, gps), MapSavedState(), backgroundScope)
            patrol.awaitState { it.gridCode != null }
            patrol.onEvent(PatrolEvent.Start)
            patrol.awaitState { it.running }
            awaitThread(gps.sources.single().thread)
            patrol.onEvent(PatrolEvent.Refresh)
            val s = patrol.awaitState { it.fixes >= 5 }
            patrolId = assertNotNull(s.patrolId)
            before = s.fixes
        }
        Process().use { p ->
            val gps = FakeGps(fixes = 4, startLat = 37.78005)
            val patrol = PatrolViewModel(p.repo, PatrolTracking(p.repo, gps), MapSavedState(), backgroundScope)
            val back = patrol.awaitState("still running") { it.running }
            assertEquals(patrolId, back.patrolId)
            assertEquals(1, gps.sources.size, "GPS attached again")
            awaitThread(gps.sources.single().thread)
            patrol.onEvent(PatrolEvent.Refresh)
            val more = patrol.awaitState { it.fixes >= before + 4 }
            assertEquals(before + 4, more.fixes)
            patrol.onEvent(PatrolEvent.Stop)
            patrol.awaitState { !it.running }
            assertNull(p.repo.call { it.activePatrol() }.ok())
        }
    }

    @Test
    fun `the households browse position and search come back`() = runTest(timeout = 60.seconds) {
        val saved = MapSavedState()
        Process().use { p ->
            household(p.repo, "2栋", "101")
            household(p.repo, "10栋", "201")
            household(p.repo, "10栋", "302")
            val vm = HouseholdsViewModel(p.repo, saved, backgroundScope)
            assertEquals(listOf("2栋", "10栋"), vm.awaitState { !it.loading && it.buildings.size == 2 }.buildings)
            vm.onEvent(HouseholdsEvent.BuildingChosen("10栋"))
            vm.onEvent(HouseholdsEvent.UnitChosen("1单元"))
            vm.onEvent(HouseholdsEvent.FloorChosen(3))
            vm.onEvent(HouseholdsEvent.SearchTyped("302"))
            vm.awaitState { it.hits.isNotEmpty() }
        }
        Process().use { p ->
            val vm = HouseholdsViewModel(p.repo, MapSavedState(saved.snapshot()), backgroundScope)
            val back = vm.awaitState { !it.loading && it.households.isNotEmpty() && it.hits.isNotEmpty() }
            assertEquals("10栋", back.building)
            assertEquals(3, back.floor)
            assertEquals(listOf("幸福社区 10栋 1单元 302"), back.households.map { it.addressLine })
            assertEquals("302", back.query)
            assertTrue(back.hits.all { it.address.contains("302") })
        }
    }

    @Test
    fun `the password is never kept in saved state`() = runTest {
        val saved = MapSavedState()
        Process().use { p ->
            val vm = SignInViewModel(p.repo, saved, backgroundScope)
            vm.onEvent(SignInEvent.ServerChanged("https://gridwalk.example.cn"))
            vm.onEvent(SignInEvent.UsernameChanged(WORKER))
            vm.onEvent(SignInEvent.PasswordChanged("secret-pass"))
        }
        assertTrue(saved.snapshot().values.none { it.contains("secret-pass") })
        Process().use { p ->
            val vm = SignInViewModel(p.repo, MapSavedState(saved.snapshot()), backgroundScope)
            assertEquals(WORKER, vm.state.value.username)
            assertEquals("", vm.state.value.password)
        }
    }
}
