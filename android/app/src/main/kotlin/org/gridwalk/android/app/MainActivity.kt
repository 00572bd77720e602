// The one activity: the navigation between screens, each screen's view model kept in an
// androidx ViewModel (viewModelScope, SavedStateHandle) around presentation's class, the camera
// and location permission requests. Everything the screens decide is in presentation/.
package org.gridwalk.android.app

import android.Manifest
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.runtime.Composable
import androidx.compose.runtime.CompositionLocalProvider
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.platform.LocalContext
import androidx.lifecycle.SavedStateHandle
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.lifecycle.createSavedStateHandle
import androidx.lifecycle.viewmodel.initializer
import androidx.lifecycle.viewmodel.viewModelFactory
import androidx.navigation.NavHostController
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.delay
import org.gridwalk.android.presentation.CaseDraftEvent
import org.gridwalk.android.presentation.CaseDraftViewModel
import org.gridwalk.android.presentation.CaseEvent
import org.gridwalk.android.presentation.CaseViewModel
import org.gridwalk.android.presentation.CasesEvent
import org.gridwalk.android.presentation.CasesViewModel
import org.gridwalk.android.presentation.Destination
import org.gridwalk.android.presentation.HouseholdDetailEvent
import org.gridwalk.android.presentation.HouseholdDetailViewModel
import org.gridwalk.android.presentation.HouseholdsEvent
import org.gridwalk.android.presentation.HouseholdsViewModel
import org.gridwalk.android.presentation.PatrolEvent
import org.gridwalk.android.presentation.PatrolViewModel
import org.gridwalk.android.presentation.ResidentFormEvent
import org.gridwalk.android.presentation.ResidentFormViewModel
import org.gridwalk.android.presentation.SavedState
import org.gridwalk.android.presentation.ScreenModel
import org.gridwalk.android.presentation.SignInEvent
import org.gridwalk.android.presentation.SignInViewModel
import org.gridwalk.android.presentation.StatsViewModel
import org.gridwalk.android.presentation.SyncViewModel
import org.gridwalk.android.presentation.TodayEvent
import org.gridwalk.android.presentation.TodayViewModel
import org.gridwalk.android.presentation.VisitEvent
import org.gridwalk.android.presentation.VisitViewModel
import org.gridwalk.android.ui.CaseDraftScreen
import org.gridwalk.android.ui.CaseScreen
import org.gridwalk.android.ui.CasesScreen
import org.gridwalk.android.ui.GridwalkTheme
import org.gridwalk.android.ui.HouseholdScreen
import org.gridwalk.android.ui.HouseholdsScreen
import org.gridwalk.android.ui.LocalStrings
import org.gridwalk.android.ui.LocalThumbnails
import org.gridwalk.android.ui.PatrolScreen
import org.gridwalk.android.ui.ResidentFormScreen
import org.gridwalk.android.ui.SignInScreen
import org.gridwalk.android.ui.StatsScreen
import org.gridwalk.android.ui.SyncScreen
import org.gridwalk.android.ui.TodayScreen
import org.gridwalk.android.ui.VisitScreen

/** Keeps one presentation view model for a screen's lifetime (configuration changes included). */
class Holder<M : ScreenModel<*, *>>(handle: SavedStateHandle, make: (SavedState, CoroutineScope) -> M) : ViewModel() {
    val model: M = make(HandleSavedState(handle), viewModelScope)
}

@Composable
private inline fun <reified M : ScreenModel<*, *>> screenModel(
    key: String,
    noinline make: (SavedState, CoroutineScope) -> M,
): M {
    val holder: Holder<M> = viewModel(key = key, factory = viewModelFactory {
        initializer { Holder(createSavedStateHandle(), make) }
    })
    return holder.model
}

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            CompositionLocalProvider(LocalStrings provides AndroidStrings(this), LocalThumbnails provides AndroidThumbnails) {
                GridwalkTheme { Navigation(rememberNavController()) }
            }
        }
    }
}

private fun route(d: Destination): String = when (d) {
    Destination.Today -> "today"
    Destination.Households -> "households"
    is Destination.Household -> "household/${d.householdId}"
    is Destination.ResidentForm -> "resident/${d.householdId}?id=${d.residentId ?: ""}"
    is Destination.Visit -> "visit/${d.householdId}"
    Destination.Patrol -> "patrol"
    is Destination.CaseDraft -> "draft?id=${d.caseId ?: ""}"
    Destination.Cases -> "cases"
    is Destination.Case -> "case/${d.caseId}"
    Destination.Sync -> "sync"
    Destination.Stats -> "stats"
}

@Composable
private fun Navigation(nav: NavHostController) {
    val c = LocalContext.current.container
    val go: (Destination) -> Unit = { nav.navigate(route(it)) }
    val back: () -> Unit = { nav.popBackStack() }
    NavHost(nav, startDestination = "sign-in") {
        composable("sign-in") {
            val vm = screenModel("sign-in") { s, scope -> SignInViewModel(c.repository, s, scope, android.os.Build.MODEL) }
            val state by vm.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.navigateTo) {
                state.navigateTo?.let { nav.navigate(route(it)) { popUpTo("sign-in") { inclusive = true } }; vm.onEvent(SignInEvent.NavigationDone) }
            }
            SignInScreen(state, vm::onEvent)
        }
        composable("today") {
            val vm = screenModel("today") { _, scope -> TodayViewModel(c.repository, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            val context = LocalContext.current
            LaunchedEffect(state.navigateTo) { state.navigateTo?.let { go(it); vm.onEvent(TodayEvent.NavigationDone) } }
            // Nearest first, with distances, when the phone knows where it is.
            LaunchedEffect(Unit) { vm.onEvent(TodayEvent.Refresh(lastGpsFix(context))) }
            TodayScreen(state, vm::onEvent, go)
        }
        composable("households") {
            val vm = screenModel("households") { s, scope -> HouseholdsViewModel(c.repository, s, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.navigateTo) { state.navigateTo?.let { go(it); vm.onEvent(HouseholdsEvent.NavigationDone) } }
            HouseholdsScreen(state, vm::onEvent, back)
        }
        composable("household/{id}") { entry ->
            val id = entry.arguments?.getString("id") ?: return@composable
            val vm = screenModel("household/$id") { _, scope -> HouseholdDetailViewModel(c.repository, id, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.navigateTo) { state.navigateTo?.let { go(it); vm.onEvent(HouseholdDetailEvent.NavigationDone) } }
            LaunchedEffect(Unit) { vm.onEvent(HouseholdDetailEvent.Refresh) }
            HouseholdScreen(state, vm::onEvent, back)
        }
        composable("resident/{household}?id={id}") { entry ->
            val household = entry.arguments?.getString("household") ?: return@composable
            val id = entry.arguments?.getString("id")?.ifEmpty { null }
            val vm = screenModel("resident/$household/$id") { s, scope -> ResidentFormViewModel(c.repository, s, household, id, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.navigateTo) { state.navigateTo?.let { back(); vm.onEvent(ResidentFormEvent.NavigationDone) } }
            ResidentFormScreen(state, vm::onEvent, back)
        }
        composable("visit/{household}") { entry ->
            val household = entry.arguments?.getString("household") ?: return@composable
            val vm = screenModel("visit/$household") { s, scope -> VisitViewModel(c.repository, s, household, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.navigateTo) { state.navigateTo?.let { back(); vm.onEvent(VisitEvent.NavigationDone) } }
            VisitScreen(state, vm::onEvent, back)
        }
        composable("patrol") {
            val vm = screenModel("patrol") { s, scope -> PatrolViewModel(c.repository, c.patrolTracking, s, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
                if (granted) vm.onEvent(PatrolEvent.Start)
            }
            LaunchedEffect(state.running) {
                while (state.running) {
                    vm.onEvent(PatrolEvent.Refresh)
                    delay(1_000)
                }
            }
            PatrolScreen(state, { e ->
                if (e == PatrolEvent.Start) permission.launch(Manifest.permission.ACCESS_FINE_LOCATION) else vm.onEvent(e)
            }, back)
        }
        composable("draft?id={id}") { entry ->
            val id = entry.arguments?.getString("id")?.ifEmpty { null }
            val vm = screenModel("draft/$id") { s, scope -> CaseDraftViewModel(c.repository, s, id, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            val context = LocalContext.current
            // The camera app may outlive this process: the file it writes is remembered across it.
            var pending by rememberSaveable { mutableStateOf<String?>(null) }
            val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { ok ->
                val path = pending
                pending = null
                if (ok && path != null) vm.onEvent(CaseDraftEvent.PhotoTaken(path))
            }
            LaunchedEffect(state.navigateTo) {
                state.navigateTo?.let { nav.navigate(route(it)) { popUpTo("today") }; vm.onEvent(CaseDraftEvent.NavigationDone) }
            }
            val locate = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
                if (granted) lastGpsFix(context)?.let { vm.onEvent(CaseDraftEvent.LocationFixed(it)) }
            }
            CaseDraftScreen(
                state, vm::onEvent,
                onTakePhoto = { CameraTarget(context).also { pending = it.file.path; camera.launch(it.uri) } },
                onLocate = { locate.launch(Manifest.permission.ACCESS_FINE_LOCATION) },
                onBack = back,
            )
        }
        composable("cases") {
            val vm = screenModel("cases") { _, scope -> CasesViewModel(c.repository, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            LaunchedEffect(state.navigateTo) { state.navigateTo?.let { go(it); vm.onEvent(CasesEvent.NavigationDone) } }
            LaunchedEffect(Unit) { vm.onEvent(CasesEvent.Refresh) }
            CasesScreen(state, vm::onEvent, back)
        }
        composable("case/{id}") { entry ->
            val id = entry.arguments?.getString("id") ?: return@composable
            val vm = screenModel("case/$id") { s, scope -> CaseViewModel(c.repository, s, id, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            val context = LocalContext.current
            // The camera app may outlive this process: the file it writes is remembered across it.
            var pending by rememberSaveable { mutableStateOf<String?>(null) }
            val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { ok ->
                val path = pending
                pending = null
                if (ok && path != null) vm.onEvent(CaseEvent.AfterPhotoTaken(path))
            }
            CaseScreen(state, vm::onEvent, { CameraTarget(context).also { pending = it.file.path; camera.launch(it.uri) } }, back)
        }
        composable("sync") {
            val vm = screenModel("sync") { _, scope -> SyncViewModel(c.repository, c.syncEngine, c.syncScheduler, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            SyncScreen(state, vm::onEvent, back)
        }
        composable("stats") {
            val vm = screenModel("stats") { s, scope -> StatsViewModel(c.repository, s, scope) }
            val state by vm.state.collectAsStateWithLifecycle()
            StatsScreen(state, vm::onEvent, back)
        }
    }
}
