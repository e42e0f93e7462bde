//! DICOMweb reads for a signed-in holder: which studies the caller may view now, each
//! study's index (built once from the encrypted metadata, then cached), instances
//! decrypted as they stream, frames read by skipping to their bytes, frames rendered.
//! Every call checks the caller's live role on chain first: a revoked or expired role stops
//! the next request even when the index is cached.

use crate::dicomweb::{
    pixels, render, FrameError, ImageFormat, PixelLayout, RenderOptions, StudyIndex, ViewCache,
    ViewError,
};

use super::*;
use crate::ErrorKind;

/// Most studies a search walks (owned and shared).
const MAX_STUDIES: u32 = 2_000;
/// Token ids read from the chain at a time.
const PAGE: u32 = 50;
/// Most bytes of frames one request reads into memory.
pub const MAX_FRAME_BYTES: u64 = 512 * 1024 * 1024;

impl Platform {
    /// The token's record if `address` holds a live role on it now; `NotFound` otherwise.
    async fn live_record(
        &self,
        d: &Deployment,
        token: u32,
        address: &str,
    ) -> Result<TokenRecord, PlatformError> {
        let client = self.token_client(d);
        let not_found = || {
            PlatformError::NotFound(format!(
                "no study {token} for this account (never shared, or the role was revoked or \
                 has expired; ask the owner to share it again)"
            ))
        };
        let access = match client.access(token, address).await {
            Ok(a) => a,
            Err(e) if medimint_chain::clients::contract_error(&e).is_some() => {
                return Err(not_found())
            }
            Err(e) => return Err(chain(format!("reading access to token {token}"))(e)),
        };
        if access.is_none() {
            // An erased study answers so, not as if it had never been shared.
            if let Ok(record) = client.token(token).await {
                not_erased(&record)?;
            }
            return Err(not_found());
        }
        client
            .token(token)
            .await
            .map_err(chain(format!("reading token {token}")))
    }

    /// The index of a token for `holder`, from the cache or built from its metadata.
    async fn study_index(
        &self,
        record: &TokenRecord,
        holder: &Keypair,
    ) -> Result<Arc<StudyIndex>, PlatformError> {
        let cid = record
            .metadata_uri
            .strip_prefix("ipfs://")
            .unwrap_or(&record.metadata_uri)
            .to_owned();
        let cache = ViewCache::global();
        let address = holder.address();
        if let Some(i) = cache.get(&cid, &address) {
            return Ok(i);
        }
        let (key, meta) = self.open_token_with_headers(record, holder).await?;
        let index = StudyIndex::build(record.id, key, meta)
            .map_err(|e| PlatformError::Invalid(format!("token {}: {e}", record.id)))?;
        let index = Arc::new(index);
        cache.put(&cid, &address, index.clone());
        cache.remember_token(&address, &index.study_uid, record.id);
        Ok(index)
    }

    /// Every study `email`'s account may view now (owned, shared with a live role, or
    /// opened in an emergency), with its index. A study whose metadata this account cannot
    /// open is left out.
    ///
    /// # Errors
    /// Chain failures.
    pub async fn viewable_studies(
        &self,
        email: &str,
    ) -> Result<Vec<Arc<StudyIndex>>, PlatformError> {
        let d = self.deployment()?;
        let holder = self.keypair_of(email).await?;
        let address = holder.address();
        let client = self.token_client(&d);
        let mut ids = Vec::new();
        for function in ["tokens_of", "shared_with"] {
            let mut start = 0;
            while start < MAX_STUDIES {
                let page = client
                    .page(function, &address, start, PAGE)
                    .await
                    .map_err(chain(format!("listing studies ({function})")))?;
                let n = page.len() as u32;
                ids.extend(page);
                if n < PAGE {
                    break;
                }
                start += n;
            }
        }
        ids.extend(self.emergency_tokens_of(&address).await?);
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            let record = match self.live_record(&d, id, &address).await {
                Ok(r) => r,
                // An erased study (still in a grantee's list) has nothing left to view.
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Gone) => continue,
                Err(e) => return Err(e),
            };
            match self.study_index(&record, &holder).await {
                Ok(i) => out.push(i),
                Err(e) => tracing::warn!(token = id, error = %e, "a study left out of DICOMweb"),
            }
        }
        Ok(out)
    }

    /// The study `study_uid` if `email`'s account may view it now.
    ///
    /// # Errors
    /// `NotFound` (no such study for this account, or its role ended); chain failures.
    pub async fn viewable_study(
        &self,
        email: &str,
        study_uid: &str,
    ) -> Result<Arc<StudyIndex>, PlatformError> {
        let d = self.deployment()?;
        let holder = self.keypair_of(email).await?;
        let address = holder.address();
        if let Some(token) = ViewCache::global().token_of(&address, study_uid) {
            let record = self.live_record(&d, token, &address).await?;
            let index = self.study_index(&record, &holder).await?;
            if index.study_uid == study_uid {
                return Ok(index);
            }
        }
        self.viewable_studies(email)
            .await?
            .into_iter()
            .find(|i| i.study_uid == study_uid)
            .ok_or_else(|| {
                PlatformError::NotFound(format!(
                    "no study {study_uid} for this account (never shared, or the role was \
                     revoked or has expired)"
                ))
            })
    }

    /// Instance `i` of a study, decrypted as it is read.
    ///
    /// # Errors
    /// Storage.
    pub async fn instance_stream(
        &self,
        index: &StudyIndex,
        i: usize,
    ) -> Result<FileStream, PlatformError> {
        let inst = &index.instances[i];
        let object = self
            .store
            .get_stream(&inst.object_key)
            .await
            .map_err(storage("reading a study file"))?;
        Ok(FileStream::decrypting(
            StudyFile {
                path: inst.path.clone(),
                size: inst.size,
                sha256: inst.sha256.clone(),
            },
            &index.key,
            object,
        ))
    }

    /// Where the pixel data of instance `i` is (learned once per cached index).
    ///
    /// # Errors
    /// [`FrameError`]s of the walk; storage.
    pub async fn pixel_layout(
        &self,
        index: &StudyIndex,
        i: usize,
    ) -> Result<Arc<PixelLayout>, ViewError> {
        if let Some(l) = index.layout(i) {
            return Ok(l);
        }
        let stream = self.instance_stream(index, i).await?;
        let layout = Arc::new(pixels::locate(tokio::io::BufReader::new(stream)).await?);
        index.remember_layout(i, layout.clone());
        Ok(layout)
    }

    /// The bytes of frames `numbers` (from 1) of instance `i`, as stored, in the order
    /// asked, and the layout (its transfer syntax).
    ///
    /// # Errors
    /// A frame that does not exist; more than [`MAX_FRAME_BYTES`]; layouts not cut here.
    pub async fn frames(
        &self,
        index: &StudyIndex,
        i: usize,
        numbers: &[u32],
    ) -> Result<(Arc<PixelLayout>, Vec<Vec<u8>>), ViewError> {
        let layout = self.pixel_layout(index, i).await?;
        let inst = &index.instances[i];
        let mut wanted = Vec::with_capacity(numbers.len());
        let mut total = 0u64;
        for n in numbers {
            let r = layout.frame_ranges(*n, inst.frames, inst.frame_bytes)?;
            total += r.iter().map(|(_, l)| *l).sum::<u64>();
            wanted.push(r);
        }
        if total > MAX_FRAME_BYTES {
            return Err(FrameError::Unsupported(format!(
                "the frames asked hold {total} bytes, more than the {MAX_FRAME_BYTES} one request \
                 serves; ask for fewer frames at a time"
            ))
            .into());
        }
        let stream = self.instance_stream(index, i).await?;
        let bytes = pixels::read_ranges(tokio::io::BufReader::new(stream), &wanted).await?;
        Ok((layout, bytes))
    }

    /// Frame `frame` of instance `i` rendered as an image (a thumbnail fits 128 pixels).
    ///
    /// # Errors
    /// [`render::RenderError::Unsupported`] for a transfer syntax without a decoder here.
    pub async fn render_frame(
        &self,
        index: &StudyIndex,
        i: usize,
        frame: u32,
        format: ImageFormat,
        options: &RenderOptions,
        thumbnail: bool,
    ) -> Result<Vec<u8>, ViewError> {
        let layout = self.pixel_layout(index, i).await?;
        if !render::can_decode(&layout.transfer_syntax) {
            return Err(render::RenderError::Unsupported(layout.transfer_syntax.clone()).into());
        }
        let (layout, mut bytes) = self.frames(index, i, &[frame]).await?;
        let data = bytes.pop().unwrap_or_default();
        let header = index.instances[i].header.clone();
        let ts = layout.transfer_syntax.clone();
        let options = options.clone();
        let out = tokio::task::spawn_blocking(move || {
            let img = render::decode_frame(&header, &ts, data, &options)?;
            render::encode(img, format, &options, thumbnail)
        })
        .await
        .map_err(|e| render::RenderError::Decode(e.to_string()))??;
        Ok(out)
    }
}
