//! Content of any size behind one content address: a UnixFS file DAG (dag-pb nodes over raw
//! leaves of at most one IPFS block), laid out as `ipfs add --cid-version 1 --raw-leaves
//! --chunker size-1048576` lays it out (balanced, at most 174 links per node), so an IPFS node
//! that holds the blocks serves the same bytes under the same root CID.
//!
//! - Content of one block or less is that block alone: its root is the raw CID
//!   ([`crate::cid::cid_v1`], `bafkrei…`), as `ipfs add` gives it.
//! - Larger content is cut into [`BLOCK_SIZE`] leaves (the last may be shorter), each a raw
//!   block; up to [`MAX_LINKS`] of them are linked by a dag-pb node (codec 0x70, `bafybei…`),
//!   whose UnixFS data says `File`, the byte count under it and each child's; more than that
//!   many nodes are linked the same way one level up, until one root is left.
//!
//! [`FileBuilder`] builds the nodes over leaves the caller stores; [`parse_file_node`] reads a
//! node back. The byte layout is in docs/formats.md ("Files of any size").

use cid::multihash::Multihash;
use multihash_codetable::Code;
use rust_unixfs::file::adder::{parse_file_branch, rebuild_file_branch, FileBranchLink};
use sha2::{Digest, Sha256};

use crate::cid::{CidError, MAX_OBJECT_SIZE, RAW_CODEC, SHA2_256};

/// Bytes per leaf: one IPFS block.
pub const BLOCK_SIZE: usize = MAX_OBJECT_SIZE;
/// Links per dag-pb node, as `ipfs add`'s balanced layout has them.
pub const MAX_LINKS: usize = 174;
/// Multicodec code of dag-pb.
pub const DAG_PB_CODEC: u64 = 0x70;

/// Why a node could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// Not a dag-pb node holding a UnixFS file (or a protobuf this reader does not take).
    #[error("not a UnixFS file node: {0}")]
    Malformed(&'static str),
}

/// A block to store under `meta/<cid>` (or wherever the caller keeps blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Its CIDv1 (raw or dag-pb, sha2-256, base32 lower).
    pub cid: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A child of a node: its binary CID, the size of the DAG under it, the content bytes under
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The child's CID, binary (CIDv1: version, codec, multihash).
    pub cid: cid::Cid,
    /// Bytes of the child's block and of every block under it (dag-pb `Tsize`).
    pub tsize: u64,
    /// Content bytes under the child (UnixFS `blocksizes`).
    pub content: u64,
}

impl Link {
    /// Whether the child is a raw leaf (its bytes are content), not another node.
    pub fn is_leaf(&self) -> bool {
        self.cid.codec() == RAW_CODEC
    }

    /// The child's CID as text (`bafk…` or `bafy…`).
    pub fn cid_string(&self) -> String {
        self.cid.to_string()
    }
}

fn cid_of(codec: u64, bytes: &[u8]) -> cid::Cid {
    let digest = Sha256::digest(bytes);
    let hash = Multihash::<64>::wrap(SHA2_256, &digest).expect("32 bytes fit a 64-byte multihash");
    cid::Cid::new_v1(codec, hash)
}

/// Builds a file's DAG over leaves added in order.
#[derive(Debug)]
pub struct FileBuilder {
    fanout: usize,
    leaves: Vec<Link>,
}

impl Default for FileBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl FileBuilder {
    /// `ipfs add`'s layout: [`MAX_LINKS`] links per node.
    pub fn new() -> Self {
        Self::with_fanout(MAX_LINKS)
    }

    /// Another fan-out (at least 2), for tests of deep trees over few leaves.
    pub fn with_fanout(fanout: usize) -> Self {
        Self {
            fanout: fanout.max(2),
            leaves: Vec::new(),
        }
    }

    /// Records the next leaf (at most [`BLOCK_SIZE`] bytes; every leaf but the last should be
    /// exactly that) and returns its raw CID, under which the caller stores it.
    ///
    /// # Errors
    /// A leaf larger than one block.
    pub fn add_leaf(&mut self, leaf: &[u8]) -> Result<String, CidError> {
        if leaf.len() > BLOCK_SIZE {
            return Err(CidError::TooLarge {
                size: leaf.len(),
                max: BLOCK_SIZE,
            });
        }
        let cid = cid_of(RAW_CODEC, leaf);
        let text = cid.to_string();
        self.leaves.push(Link {
            cid,
            tsize: leaf.len() as u64,
            content: leaf.len() as u64,
        });
        Ok(text)
    }

    /// Leaves added so far.
    pub fn leaves(&self) -> usize {
        self.leaves.len()
    }

    /// The root CID and the dag-pb nodes to store with the leaves (none for a single leaf,
    /// whose raw CID is the root; for no leaf at all, the empty raw block).
    pub fn finish(self) -> (String, Vec<Block>) {
        let mut level = self.leaves;
        if level.is_empty() {
            let cid = cid_of(RAW_CODEC, b"");
            return (
                cid.to_string(),
                vec![Block {
                    cid: cid.to_string(),
                    bytes: Vec::new(),
                }],
            );
        }
        if level.len() == 1 {
            return (level[0].cid.to_string(), Vec::new());
        }
        let mut nodes = Vec::new();
        while level.len() > 1 {
            let mut up = Vec::with_capacity(level.len().div_ceil(self.fanout));
            for children in level.chunks(self.fanout) {
                let bytes = encode_file_node(children);
                let cid = cid_of(DAG_PB_CODEC, &bytes);
                up.push(Link {
                    cid,
                    tsize: bytes.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>(),
                    content: children.iter().map(|c| c.content).sum(),
                });
                nodes.push(Block {
                    cid: cid.to_string(),
                    bytes,
                });
            }
            level = up;
        }
        (level[0].cid.to_string(), nodes)
    }
}

/// A dag-pb node over `children`, as `ipfs add` writes it (`rust-unixfs` renders it:
/// links first, then the UnixFS `File` data with the byte count and each child's).
fn encode_file_node(children: &[Link]) -> Vec<u8> {
    let links: Vec<FileBranchLink> = children
        .iter()
        .map(|c| FileBranchLink {
            cid: c.cid,
            blocksize: c.content,
            tsize: c.tsize,
        })
        .collect();
    let filesize = children.iter().map(|c| c.content).sum();
    let (_, bytes) = rebuild_file_branch(filesize, &links, cid::Version::V1, Code::Sha2_256);
    bytes
}

/// The children of a UnixFS file node, in order, with the content bytes under each (decoded
/// by `rust-unixfs`).
///
/// # Errors
/// Not a dag-pb UnixFS `File` node with links (a leaf, a directory, a node with metadata, a
/// damaged protobuf), content inline in the node (its `filesize` is then more than its
/// children's: this reader takes the layout [`FileBuilder`] writes, every byte in a leaf),
/// `blocksizes` that do not match the links, a child CID that is not CIDv1 sha2-256 raw or
/// dag-pb.
pub fn parse_file_node(bytes: &[u8]) -> Result<Vec<Link>, NodeError> {
    let branch = parse_file_branch(bytes).ok_or(NodeError::Malformed(
        "not a dag-pb UnixFS File node with a block size for each link",
    ))?;
    let mut total = 0u64;
    let mut links = Vec::with_capacity(branch.links.len());
    for l in branch.links {
        if l.cid.version() != cid::Version::V1
            || l.cid.hash().code() != SHA2_256
            || !matches!(l.cid.codec(), RAW_CODEC | DAG_PB_CODEC)
        {
            return Err(NodeError::Malformed(
                "a link is not a CIDv1 sha2-256 of a raw or dag-pb block",
            ));
        }
        total = total
            .checked_add(l.blocksize)
            .ok_or(NodeError::Malformed("the block sizes overflow"))?;
        links.push(Link {
            cid: l.cid,
            tsize: l.tsize,
            content: l.blocksize,
        });
    }
    if branch.filesize != total {
        return Err(NodeError::Malformed(
            "the node's file size is not the sum of its links' (content inline in the node?)",
        ));
    }
    Ok(links)
}

/// The codec of a CIDv1 sha2-256 string ([`RAW_CODEC`] or [`DAG_PB_CODEC`]).
///
/// # Errors
/// Any other CID, or not a CID.
pub fn codec_of(cid: &str) -> Result<u64, CidError> {
    let text = cid.strip_prefix("ipfs://").unwrap_or(cid);
    let invalid = || CidError::Invalid(text.chars().take(80).collect());
    let parsed: cid::Cid = text.parse().map_err(|_| invalid())?;
    if parsed.version() != cid::Version::V1
        || parsed.hash().code() != SHA2_256
        || !matches!(parsed.codec(), RAW_CODEC | DAG_PB_CODEC)
    {
        return Err(invalid());
    }
    Ok(parsed.codec())
}

/// Whether `bytes` is the block `cid` names (raw or dag-pb, sha2-256), and at most one block
/// long.
///
/// # Errors
/// `cid` is not such a CID.
pub fn verify_block(cid: &str, bytes: &[u8]) -> Result<bool, CidError> {
    let text = cid.strip_prefix("ipfs://").unwrap_or(cid);
    codec_of(text)?;
    let parsed: cid::Cid = text
        .parse()
        .map_err(|_| CidError::Invalid(text.chars().take(80).collect()))?;
    Ok(bytes.len() <= BLOCK_SIZE && parsed.hash().digest() == &Sha256::digest(bytes)[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known answers' content: byte `i` is `i * 31 mod 251`.
    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn build(data: &[u8], chunk: usize, fanout: usize) -> (String, Vec<Block>, Vec<String>) {
        let mut b = FileBuilder::with_fanout(fanout);
        let leaves: Vec<String> = data.chunks(chunk).map(|c| b.add_leaf(c).unwrap()).collect();
        let (root, nodes) = b.finish();
        (root, nodes, leaves)
    }

    // Known answers from an implementation not written here: ipfs-unixfs-importer 17.1.1
    // (npm; the importer of js-ipfs and Helia) with cidVersion 1, rawLeaves, a fixed-size
    // chunker and the balanced layout, over the content above.
    #[test]
    fn roots_are_those_the_ipfs_importer_gives() {
        // One block or less: the raw block is the root.
        let (root, nodes, _) = build(&content(1000), BLOCK_SIZE, MAX_LINKS);
        assert_eq!(
            root,
            "bafkreiht6voekjsikc4eovjtfcp7iovyd6q6wo7xqeth3nsf4hhaygjtpe"
        );
        assert!(nodes.is_empty());
        // 2.5 blocks: one node over three leaves.
        let (root, nodes, _) = build(&content(BLOCK_SIZE * 5 / 2), BLOCK_SIZE, MAX_LINKS);
        assert_eq!(
            root,
            "bafybeieugnj5uht6val6wsefmlph53dr755ogtuanuiygpqf75udma6a6q"
        );
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].bytes.len(), 159);
        let (root, _, _) = build(&content(BLOCK_SIZE * 3), BLOCK_SIZE, MAX_LINKS);
        assert_eq!(
            root,
            "bafybeibjjhqmpg2wj37hlwuawd7f5jod5ckb4mrq5tadxe7iz2vqkcqmc4"
        );
        // Eleven leaves, four links per node: two levels of nodes.
        let (root, nodes, _) = build(&content(11_007), 1000, 4);
        assert_eq!(
            root,
            "bafybeigalp7vq7ghpklo7tf3hjfb3rdlbydyuduucgbronn7krfzn6smqm"
        );
        assert_eq!(nodes.len(), 4);
        // Nothing: the empty raw block, IPFS's well-known empty CID.
        let (root, nodes) = FileBuilder::new().finish();
        assert_eq!(
            root,
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(nodes.len(), 1);
    }

    #[test]
    fn nodes_read_back_to_their_leaves_in_order() {
        let data = content(11_007);
        let (root, nodes, leaves) = build(&data, 1000, 4);
        let by_cid: std::collections::HashMap<_, _> = nodes
            .iter()
            .map(|n| (n.cid.clone(), n.bytes.clone()))
            .collect();
        // Walk from the root, depth first.
        let mut seen = Vec::new();
        let mut total = 0;
        let mut stack = vec![root.clone()];
        while let Some(cid) = stack.pop() {
            let Some(node) = by_cid.get(&cid) else {
                seen.push(cid);
                continue;
            };
            assert!(verify_block(&cid, node).unwrap());
            let links = parse_file_node(node).unwrap();
            for l in links.iter().rev() {
                stack.push(l.cid_string());
            }
            if links.iter().all(Link::is_leaf) {
                total += links.iter().map(|l| l.content).sum::<u64>();
            }
        }
        assert_eq!(seen, leaves);
        assert_eq!(total, data.len() as u64);
        assert_eq!(codec_of(&root).unwrap(), DAG_PB_CODEC);
        assert_eq!(codec_of(&leaves[0]).unwrap(), RAW_CODEC);
    }

    #[test]
    fn damaged_nodes_are_refused_by_name() {
        let (_, nodes, _) = build(&content(BLOCK_SIZE * 2 + 5), BLOCK_SIZE, MAX_LINKS);
        let node = &nodes[0].bytes;
        for cut in [1, 10, node.len() - 1] {
            assert!(parse_file_node(&node[..cut]).is_err(), "cut at {cut}");
        }
        // A UnixFS directory node (Data { Type = 1 }) with no links.
        assert!(parse_file_node(&[0x0a, 0x02, 0x08, 0x01]).is_err());
        // A file node whose size says more than its links hold (content inline).
        let links: Vec<FileBranchLink> = parse_file_node(node)
            .unwrap()
            .iter()
            .map(|l| FileBranchLink {
                cid: l.cid,
                blocksize: l.content,
                tsize: l.tsize,
            })
            .collect();
        let sum: u64 = links.iter().map(|l| l.blocksize).sum();
        let (_, lying) = rebuild_file_branch(sum + 5, &links, cid::Version::V1, Code::Sha2_256);
        assert!(matches!(
            parse_file_node(&lying),
            Err(NodeError::Malformed(m)) if m.contains("file size")
        ));
        assert!(parse_file_node(&[0xff; 12]).is_err());
        assert!(!verify_block(&nodes[0].cid, b"other").unwrap());
        assert!(codec_of("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH").is_err());
        let mut b = FileBuilder::new();
        assert!(b.add_leaf(&vec![0; BLOCK_SIZE + 1]).is_err());
    }
}
