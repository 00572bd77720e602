// The application and its container: one repository (the store opened once, with the key from
// the Android Keystore), one sync engine, one patrol tracker — created here and handed to
// whoever needs them, no global singletons.
package org.gridwalk.android.app

import android.app.Application
import android.content.Context
import java.io.File
import kotlinx.coroutines.Dispatchers
import org.gridwalk.android.presentation.GridwalkRepository
import org.gridwalk.android.presentation.PatrolTracking
import org.gridwalk.android.presentation.StoreOpener
import org.gridwalk.android.presentation.SyncEngine

class GridwalkApp : Application() {
    lateinit var container: AppContainer
        private set

    override fun onCreate() {
        super.onCreate()
        container = AppContainer(this)
        container.syncScheduler.schedulePeriodic()
    }
}

class AppContainer(context: Context) {
    private val app = context.applicationContext
    val storePath: String = File(app.filesDir, "gridwalk/work.db").also { it.parentFile?.mkdirs() }.path
    val repository = GridwalkRepository(StoreOpener(storePath, KeystoreKeyProvider(app)), Dispatchers.IO)
    val syncEngine = SyncEngine(repository)
    val syncScheduler = WorkManagerSyncScheduler(app)
    val locationFeed = ServiceLocationFeed(app)
    val patrolTracking = PatrolTracking(repository, locationFeed)
    val cameraDir: File = File(app.filesDir, "camera").also { it.mkdirs() }
}

val Context.container: AppContainer get() = (applicationContext as GridwalkApp).container
