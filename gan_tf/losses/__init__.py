"""Adversarial losses: pure functions (`functions`) and the recipes `GAN` trains with
(`recipes`). Every name of both is available here: `gan_tf.losses.hinge_discriminator_loss`,
`gan_tf.losses.get("hinge")`, `gan_tf.losses.GANLoss`, ...
"""

from gan_tf.losses.functions import *  # noqa: F401,F403
from gan_tf.losses.recipes import *  # noqa: F401,F403
