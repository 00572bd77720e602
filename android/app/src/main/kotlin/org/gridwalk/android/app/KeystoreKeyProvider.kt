// The store's database key: 32 random bytes made once, kept on disk only wrapped (AES-GCM) by a
// key that never leaves the Android Keystore. No backup holds it (noBackupFilesDir), so a copy
// of the store file alone opens nowhere.
package org.gridwalk.android.app

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.io.File
import java.security.KeyStore
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.gridwalk.android.presentation.KeyProvider

class KeystoreKeyProvider(context: Context) : KeyProvider {
    private val wrapped = File(context.noBackupFilesDir, "gridwalk-db-key.bin")

    @Synchronized
    override fun databaseKey(): String {
        val raw = if (wrapped.isFile) unwrap(wrapped.readBytes()) else ByteArray(32).also {
            SecureRandom().nextBytes(it)
            val tmp = File(wrapped.path + ".tmp")
            tmp.writeBytes(wrap(it))
            check(tmp.renameTo(wrapped)) { "could not store the wrapped database key" }
        }
        // The store's keyed open takes a passphrase (SQLCipher derives the page key from it):
        // the 32 random bytes as 64 hex digits.
        return raw.joinToString("") { "%02x".format(it) }
    }

    private fun wrappingKey(): SecretKey {
        val ks = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (ks.getKey(ALIAS, null) as? SecretKey)?.let { return it }
        val gen = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        gen.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build()
        )
        return gen.generateKey()
    }

    private fun wrap(raw: ByteArray): ByteArray {
        val c = Cipher.getInstance(TRANSFORM).apply { init(Cipher.ENCRYPT_MODE, wrappingKey()) }
        return byteArrayOf(c.iv.size.toByte()) + c.iv + c.doFinal(raw)
    }

    private fun unwrap(blob: ByteArray): ByteArray {
        val ivLen = blob[0].toInt()
        val iv = blob.copyOfRange(1, 1 + ivLen)
        val c = Cipher.getInstance(TRANSFORM).apply { init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(128, iv)) }
        return c.doFinal(blob.copyOfRange(1 + ivLen, blob.size))
    }

    private companion object {
        const val ALIAS = "gridwalk-db-wrap"
        const val TRANSFORM = "AES/GCM/NoPadding"
    }
}
