// Sync through WorkManager: a periodic run when there is a network, a one-off "sync now",
// exponential backoff for runs that failed for want of signal, progress in a notification, and
// cancellation (WorkManager stopping the worker) passed to the core's CancelHandle.
package org.gridwalk.android.app

import android.app.NotificationChannel
import android.app.NotificationManager
import android.content.Context
import android.content.pm.ServiceInfo
import android.os.Build
import androidx.core.app.NotificationCompat
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.ForegroundInfo
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.OutOfQuotaPolicy
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import org.gridwalk.android.presentation.ErrorKind
import org.gridwalk.android.presentation.Outcome
import org.gridwalk.android.presentation.SyncScheduler
import org.gridwalk.core.SyncPhase

class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    private val engine = context.container.syncEngine

    override suspend fun doWork(): Result = coroutineScope {
        setForeground(progressInfo(null))
        val updates = launch {
            engine.run.collect { run -> if (run.running) setForeground(progressInfo(run.phase, run.done, run.total)) }
        }
        try {
            when (val outcome = engine.runOnce()) {
                is Outcome.Ok -> Result.success()
                is Outcome.Failed -> when (outcome.error.kind) {
                    ErrorKind.OFFLINE, ErrorKind.BUSY, ErrorKind.CANCELLED -> Result.retry()
                    else -> Result.failure()
                }
            }
        } catch (e: CancellationException) {
            // WorkManager stopped us (constraints lost, cancelled): stop the core at its next
            // safe point; what finished is kept and the rest stays queued.
            engine.cancel()
            throw e
        } finally {
            updates.cancel()
        }
    }

    override suspend fun getForegroundInfo(): ForegroundInfo = progressInfo(null)

    private fun progressInfo(phase: SyncPhase?, done: Long = 0, total: Long? = null): ForegroundInfo {
        val nm = applicationContext.getSystemService(NotificationManager::class.java)
        if (Build.VERSION.SDK_INT >= 26) {
            nm.createNotificationChannel(NotificationChannel(CHANNEL, applicationContext.getString(org.gridwalk.android.ui.R.string.sync_title), NotificationManager.IMPORTANCE_LOW))
        }
        val text = applicationContext.getString(
            when (phase) {
                SyncPhase.PULL -> org.gridwalk.android.ui.R.string.sync_phase_pull
                SyncPhase.UPLOAD -> org.gridwalk.android.ui.R.string.sync_phase_upload
                SyncPhase.DONE -> org.gridwalk.android.ui.R.string.sync_phase_done
                else -> org.gridwalk.android.ui.R.string.sync_phase_push
            }
        )
        val n = NotificationCompat.Builder(applicationContext, CHANNEL)
            .setSmallIcon(android.R.drawable.stat_notify_sync)
            .setContentTitle(applicationContext.getString(org.gridwalk.android.ui.R.string.sync_title))
            .setContentText(text)
            .setOngoing(true)
            .setProgress(total?.toInt() ?: 0, done.toInt(), total == null)
            .addAction(0, applicationContext.getString(org.gridwalk.android.ui.R.string.sync_cancel),
                WorkManager.getInstance(applicationContext).createCancelPendingIntent(id))
            .build()
        return if (Build.VERSION.SDK_INT >= 29) ForegroundInfo(NOTIFICATION_ID, n, ServiceInfo.FOREGROUND_SERVICE_TYPE_DATA_SYNC)
        else ForegroundInfo(NOTIFICATION_ID, n)
    }

    private companion object {
        const val CHANNEL = "sync"
        const val NOTIFICATION_ID = 1001
    }
}

class WorkManagerSyncScheduler(private val context: Context) : SyncScheduler {
    private val network = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()
    private val work get() = WorkManager.getInstance(context)

    fun schedulePeriodic() {
        val periodic = PeriodicWorkRequestBuilder<SyncWorker>(1, TimeUnit.HOURS)
            .setConstraints(network)
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
            .build()
        work.enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, periodic)
    }

    override fun syncNow() {
        val now = OneTimeWorkRequestBuilder<SyncWorker>()
            .setConstraints(network)
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
            .setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)
            .build()
        work.enqueueUniqueWork(NOW, ExistingWorkPolicy.KEEP, now)
    }

    override fun cancel() {
        work.cancelUniqueWork(NOW)
        // A periodic run in progress stops too; the next period runs as usual.
        context.container.syncEngine.cancel()
    }

    private companion object {
        const val PERIODIC = "sync-periodic"
        const val NOW = "sync-now"
    }
}
